import Foundation

/// Resolves a code typed by a person (any case) against the codes that exist.
///
/// Typos in codes are the commonest mistake when back-filling paper registers, so an unknown
/// code comes back with the nearest real one: `unknown site 'DICE-UKUNDAA' (did you mean DICE-UKUNDA?)`.
public struct CodeLookup: Sendable {
  public let noun: String
  public let codes: Set<String>

  public init(noun: String, codes: some Sequence<String>) {
    self.noun = noun
    self.codes = Set(codes)
  }

  /// The canonical (upper-case) code, or a FieldError naming the nearest known code.
  public func resolve(_ input: String, field: String) throws(FieldError) -> String {
    let code = Self.normalize(input)
    guard !code.isEmpty else { throw FieldError(field: field, problem: "\(noun) code is empty") }
    if codes.contains(code) { return code }
    throw FieldError(field: field, problem: unknownMessage(code))
  }

  public func unknownMessage(_ input: String) -> String {
    let code = Self.normalize(input)
    if let suggestion = suggestion(for: code) {
      return "unknown \(noun) '\(input)' (did you mean \(suggestion)?)"
    }
    return "unknown \(noun) '\(input)'"
  }

  public static func normalize(_ input: String) -> String {
    input.trimmingCharacters(in: .whitespaces).uppercased()
  }

  /// The closest code within a small edit distance, preferring the alphabetically first on ties.
  func suggestion(for code: String) -> String? {
    let limit = max(2, code.count / 4)
    var best: (distance: Int, code: String)?
    for candidate in codes {
      let distance = Self.editDistance(Array(code), Array(candidate))
      guard distance <= limit else { continue }
      if best == nil || distance < best!.distance || (distance == best!.distance && candidate < best!.code) {
        best = (distance, candidate)
      }
    }
    return best?.code
  }

  static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      current[0] = i
      for j in 1...b.count {
        let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
        current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
      }
      swap(&previous, &current)
    }
    return previous[b.count]
  }
}

extension CodeLookup {
  /// Resolves a code given as a command's argument, whose own message names it:
  /// `unknown site 'DICE-UKUNDAA' (did you mean DICE-UKUNDA?)`.
  public func resolveArgument(_ input: String) throws(KPStockError) -> String {
    do {
      return try resolve(input, field: "code")
    } catch {
      throw .badInput(error.problem)
    }
  }
}

import ArgumentParser
import Foundation
import KPStock

/// The argument parser keeps the last of `--qty 1 --qty 2` and drops the first without a word, so a slip at the
/// keyboard would record the wrong quantity. Every command's options are checked here, in one place, from what
/// the parsed command declares: an option that takes one value may be given once; one declared as an array
/// (repeatable) may be given as often as it likes.
enum RepeatedOptions {
  /// - Parameter arguments: the command line without the program name, as the parser saw it.
  static func check(_ command: ParsableCommand.Type, arguments: [String]) throws(KPStockError) {
    let options = declaredOptions(of: command)
    var given: [String: (typed: String, values: [String])] = [:]
    var order: [String] = []
    var index = 0
    while index < arguments.count {
      let token = arguments[index]
      index += 1
      if token == "--" { break }
      guard token.hasPrefix("-") else { continue }
      let name = token.split(separator: "=", maxSplits: 1).first.map(String.init) ?? token
      guard let option = options[name] else { continue }
      let value: String
      if name.count < token.count {
        value = String(token.dropFirst(name.count + 1))
      } else {
        guard index < arguments.count else { break }
        value = arguments[index]
        index += 1
      }
      guard !option.repeatable else { continue }
      if given[option.id] == nil { order.append(option.id) }
      given[option.id, default: (name, [])].values.append(value)
    }
    for id in order {
      guard let (typed, values) = given[id], values.count > 1 else { continue }
      throw .badInput("\(typed): given more than once (\(values.joined(separator: ", "))); give it once")
    }
  }

  private struct Option {
    /// The same for every spelling of one option (`-q`, `--qty`).
    var id: String
    var repeatable: Bool
  }

  /// Every spelling of every option the command takes, from the parser's own description of the command (the
  /// one `--experimental-dump-help` prints), so a new option or option group is covered without listing it.
  private static func declaredOptions(of command: ParsableCommand.Type) -> [String: Option] {
    guard let dump = try? JSONDecoder().decode(Dump.self, from: Data(command._dumpHelp().utf8)) else { return [:] }
    var options: [String: Option] = [:]
    for argument in dump.command.arguments ?? [] where argument.kind == "option" {
      let spellings = (argument.names ?? []).map { name in
        name.kind == "long" ? "--" + name.name : "-" + name.name
      }
      guard let id = spellings.first else { continue }
      for spelling in spellings { options[spelling] = Option(id: id, repeatable: argument.isRepeating) }
    }
    return options
  }

  private struct Dump: Decodable {
    var command: Command

    struct Command: Decodable {
      var arguments: [Argument]?
    }

    struct Argument: Decodable {
      var kind: String
      var isRepeating: Bool
      var names: [Name]?
    }

    struct Name: Decodable {
      var kind: String
      var name: String
    }
  }
}

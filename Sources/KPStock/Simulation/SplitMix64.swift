/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny generator whose output depends only on its seed, on every
/// platform and Swift version, which is what a reproducible history needs. The standard library's
/// `random(in:using:)` algorithms are not promised to stay the same, so every draw the simulator makes goes
/// through the methods here. Not for anything secret.
public struct SplitMix64: Sendable {
  private var state: UInt64

  public init(seed: UInt64) { state = seed }

  /// A generator for one independent stream, named by its parts (seed, day, site, purpose…). Decisions for a
  /// site on a day draw from their own stream, so adding a draw elsewhere never shifts them.
  public init(stream parts: [UInt64]) {
    var state: UInt64 = 0x6B70_7374_6F63_6B21
    for part in parts { state = SplitMix64.mix(state ^ SplitMix64.mix(part)) }
    self.init(seed: state)
  }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    return SplitMix64.mix(state)
  }

  /// The SplitMix64 output function: a bijective scramble of 64 bits.
  static func mix(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1), from the top 53 bits.
  public mutating func unit() -> Double {
    Double(next() >> 11) * 0x1.0p-53
  }

  public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
    range.lowerBound + (range.upperBound - range.lowerBound) * unit()
  }

  /// Uniform over the range (multiply-shift; its bias is far below anything a history could show).
  public mutating func int(in range: ClosedRange<Int>) -> Int {
    let width = UInt64(range.upperBound - range.lowerBound) + 1
    return range.lowerBound + Int(next().multipliedFullWidth(by: width).high)
  }

  public mutating func chance(_ probability: Double) -> Bool { unit() < probability }

  /// Around `mean`, within ± `spread` of it (a triangular distribution: values near the mean are likelier).
  public mutating func around(_ mean: Double, spread: Double) -> Double {
    mean * (1 + spread * (unit() + unit() - 1))
  }

  /// A whole count whose expected value is `mean`: the fraction becomes one more with that probability.
  public mutating func count(_ mean: Double) -> Int {
    guard mean > 0 else { return 0 }
    let whole = mean.rounded(.down)
    return Int(whole) + (chance(mean - whole) ? 1 : 0)
  }
}

/// FNV-1a over UTF-8: a stable 64-bit name for a string (Swift's `Hasher` is seeded per process).
func stableHash(_ text: String) -> UInt64 {
  var hash: UInt64 = 0xCBF2_9CE4_8422_2325
  for byte in text.utf8 {
    hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
  }
  return hash
}

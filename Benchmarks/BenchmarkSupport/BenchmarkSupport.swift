// What every benchmark needs: timing, a median, a kpstock command timed as a person runs it, and an error that says
// what went wrong.

import Foundation

public struct BenchmarkError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// `body`'s result and the wall-clock seconds it took.
public func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
  let start = DispatchTime.now().uptimeNanoseconds
  let result = try body()
  return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

/// The wall-clock seconds `body` took.
public func seconds(_ body: () throws -> Void) rethrows -> Double {
  try timed(body).1
}

public func median(_ values: [Double]) -> Double {
  let sorted = values.sorted()
  return sorted.count % 2 == 1
    ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// One kpstock command in its own process, timed from start to exit; a failure is thrown with what it printed.
public func kpstockRun(kpstock: String, _ arguments: [String]) throws -> Double {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: kpstock)
  process.arguments = arguments
  let output = Pipe()
  process.standardOutput = output
  process.standardError = output
  var text = Data()
  let elapsed = try seconds {
    try process.run()
    text = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
  }
  guard process.terminationStatus == 0 else {
    throw BenchmarkError(
      "kpstock \(arguments.prefix(2).joined(separator: " ")) failed: \(String(decoding: text, as: UTF8.self))")
  }
  return elapsed
}

/// The release build of kpstock beside this benchmark's binary.
public func kpstockBeside(_ benchmark: String) throws -> String {
  let path = URL(fileURLWithPath: benchmark).deletingLastPathComponent().appendingPathComponent("kpstock").path
  guard FileManager.default.isExecutableFile(atPath: path) else {
    throw BenchmarkError("no \(path): build it first (swift build -c release --product kpstock)")
  }
  return path
}

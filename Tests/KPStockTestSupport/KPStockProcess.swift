import Foundation

/// The built `kpstock` binary, run as a real process the way a person runs it.
public struct KPStockProcess: Sendable {
  public struct Outcome: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
  }

  /// Next to the test bundle in the build folder, unless `KPSTOCK_BINARY` names it.
  public static var binaryPath: String {
    if let path = ProcessInfo.processInfo.environment["KPSTOCK_BINARY"] { return path }
    let testBinary =
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
      ?? CommandLine.arguments[0]
    var folder = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
    while folder.path != "/" {
      let candidate = folder.appendingPathComponent("kpstock").path
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
      folder.deleteLastPathComponent()
    }
    return "kpstock"
  }

  /// Environment for the child: the parent's, less anything that would point it at another database.
  public var environment: [String: String]

  /// A process that uses the given database through `DATABASE_URL`; kpstock's own folder (where the demo writes its
  /// report) is a temporary one, removed when the tests end.
  public init(database: TestDatabaseHandle) {
    self.init(environment: [
      "DATABASE_URL": database.conninfo, "KPSTOCK_HOME": temporaryFilesRoot.appendingPathComponent("home").path,
    ])
  }

  /// A process whose embedded cluster lives in `home`.
  public init(home: String) {
    self.init(environment: ["KPSTOCK_HOME": home])
  }

  public init(environment: [String: String]) {
    var base = ProcessInfo.processInfo.environment
    for key in ["DATABASE_URL", "KPSTOCK_HOME", "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"] {
      base.removeValue(forKey: key)
    }
    self.environment = base.merging(environment) { _, new in new }
  }

  /// Runs `kpstock args…`, optionally feeding `input` on stdin, and waits for it to exit.
  @discardableResult
  public func run(_ arguments: [String], input: String? = nil) throws -> Outcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.binaryPath)
    process.arguments = arguments
    process.environment = environment
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kpstock-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    // Files, not pipes: a server the child starts must never hold our read end open.
    let outURL = folder.appendingPathComponent("stdout")
    let errURL = folder.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    process.standardOutput = out
    process.standardError = err
    if let input {
      let inURL = folder.appendingPathComponent("stdin")
      try Data(input.utf8).write(to: inURL)
      process.standardInput = try FileHandle(forReadingFrom: inURL)
    } else {
      process.standardInput = FileHandle.nullDevice
    }
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return Outcome(
      status: process.terminationStatus,
      stdout: try String(contentsOf: outURL, encoding: .utf8),
      stderr: try String(contentsOf: errURL, encoding: .utf8))
  }
}

/// The folder every temporary file of this test process goes in, removed when the process exits: a test that
/// stops before its own cleanup, or has none, leaves nothing behind in /tmp.
private let temporaryFilesRootPath = FileManager.default.temporaryDirectory.appendingPathComponent(
  "kpstock-files-\(getpid())"
).path
private let temporaryFilesRoot: URL = {
  atexit { try? FileManager.default.removeItem(atPath: temporaryFilesRootPath) }
  return URL(fileURLWithPath: temporaryFilesRootPath)
}()

/// A temporary file holding `contents`, in a folder of its own; the caller may remove that folder early.
public func temporaryFile(named name: String, contents: String) throws -> String {
  let folder = temporaryFilesRoot.appendingPathComponent(UUID().uuidString)
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  let path = folder.appendingPathComponent(name).path
  try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
  return path
}

/// A temporary home for an embedded cluster, reachable by the postgres user when tests run as root.
public func temporaryClusterHome() throws -> String {
  let home = "/tmp/kpstock-home-\(UUID().uuidString.prefix(8))"
  try FileManager.default.createDirectory(
    atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
  return home
}

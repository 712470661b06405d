import Foundation
import Testing

@testable import EmbeddedCluster

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A throw-away cluster home under /tmp: never under /root, and world-searchable so the postgres user can enter
/// it when the tests run as root.
struct TestHome: ~Copyable {
  let path: String
  let cluster: EmbeddedCluster

  init(serverSettings: [String: String] = [:], binDirectory: String? = nil) throws {
    path = "/tmp/kpstock-cluster-test-\(UUID().uuidString.lowercased())"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    guard chmod(path, 0o755) == 0 else { throw ClusterError(.fileSystem, "chmod \(path) failed") }
    cluster = EmbeddedCluster(
      configuration: ClusterConfiguration(
        home: path, durable: false, binDirectory: binDirectory, serverSettings: serverSettings))
  }

  deinit {
    try? cluster.destroy()
    try? FileManager.default.removeItem(atPath: path)
  }
}

var runningAsRoot: Bool { geteuid() == 0 }

/// pg_isready is a client binary beside the server binaries, so the test needs no libpq.
func serverAnswers(_ status: ClusterStatus) throws -> Bool {
  let binaries = try BinaryLocator.locate(configured: nil, environment: ProcessInfo.processInfo.environment)
  let tool = try #require(BinaryLocator.clientTool("pg_isready", near: binaries, environment: [:]))
  let environment = ProcessRunner.childEnvironment(account: try ServerAccount.resolve())
  let result = try ProcessRunner.run(
    tool, ["-h", status.socketDirectory, "-p", "5432"], environment: environment, outputPath: nil)
  return result.succeeded
}

func processIsAlive(_ pid: Int32) -> Bool {
  PostmasterProbe.isAlive(pid)
}

/// SIGKILL is asynchronous: the process (and its reaping by init) finishes a moment after kill() returns.
func waitUntilGone(_ pid: Int32, timeout: Duration = .seconds(10)) async throws {
  let deadline = ContinuousClock.now + timeout
  while processIsAlive(pid) && ContinuousClock.now < deadline {
    try await Task.sleep(for: .milliseconds(50))
  }
}

func permissions(of path: String) -> mode_t? {
  var info = stat()
  guard stat(path, &info) == 0 else { return nil }
  return info.st_mode & 0o7777
}

import Foundation
import Testing

@testable import EmbeddedCluster

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

@Suite("Embedded cluster lifecycle")
struct ClusterLifecycleTests {
  @Test func startOnFreshHomeInitializesAndRunsTheServer() throws {
    let home = try TestHome()
    let before = try home.cluster.status()
    #expect(!before.initialized)
    #expect(!before.running)

    #expect(try home.cluster.start())

    let status = try home.cluster.status()
    #expect(status.initialized)
    #expect(status.running)
    #expect(status.pid != nil)
    #expect(status.serverVersion?.isEmpty == false)
    #expect(status.binDirectory != nil)
    #expect(status.serverUser == (runningAsRoot ? "postgres" : nil))
    #expect(permissions(of: status.socketDirectory) == 0o700)
    #expect(FileManager.default.fileExists(atPath: status.logFile))
    #expect(try serverAnswers(status))
  }

  @Test func secondStartFindsTheRunningServerAndReturnsFalse() throws {
    let home = try TestHome()
    #expect(try home.cluster.start())
    let pid = try home.cluster.status().pid

    #expect(try home.cluster.start() == false)
    #expect(try home.cluster.status().pid == pid)
  }

  @Test func stopShutsTheServerDownAndStartBringsItBack() throws {
    let home = try TestHome()
    try home.cluster.start()
    let firstPID = try #require(try home.cluster.status().pid)

    try home.cluster.stop()
    let stopped = try home.cluster.status()
    #expect(!stopped.running)
    #expect(stopped.pid == nil)
    #expect(!processIsAlive(firstPID))
    #expect(stopped.initialized)

    #expect(try home.cluster.start())
    let restarted = try home.cluster.status()
    #expect(restarted.running)
    #expect(try serverAnswers(restarted))
  }

  @Test func stopWithoutARunningServerIsNotAnError() throws {
    let home = try TestHome()
    try home.cluster.stop()
    try home.cluster.start()
    try home.cluster.stop()
    try home.cluster.stop()
    #expect(try !home.cluster.status().running)
  }

  @Test func startRecoversAfterThePostmasterIsKilled() async throws {
    let home = try TestHome()
    try home.cluster.start()
    let killedPID = try #require(try home.cluster.status().pid)

    #expect(kill(killedPID, SIGKILL) == 0)
    try await waitUntilGone(killedPID)
    #expect(try !home.cluster.status().running)

    #expect(try home.cluster.start())
    let recovered = try home.cluster.status()
    let newPID = try #require(recovered.pid)
    #expect(newPID != killedPID)
    #expect(processIsAlive(newPID))
    #expect(try serverAnswers(recovered))
  }

  @Test func concurrentStartsOnAFreshHomeBothSucceedAndOnlyOneStartsTheServer() async throws {
    let home = try TestHome()
    let configuration = home.cluster.configuration
    let results = await withTaskGroup(of: Result<Bool, any Error>.self) { group in
      for _ in 0..<2 {
        group.addTask {
          // Dedicated threads, because start() blocks and two blocked cooperative threads would stall the pool.
          await withCheckedContinuation { continuation in
            Thread {
              continuation.resume(returning: Result { try EmbeddedCluster(configuration: configuration).start() })
            }.start()
          }
        }
      }
      return await group.reduce(into: []) { $0.append($1) }
    }

    let started = try results.map { try $0.get() }
    #expect(started.filter { $0 }.count == 1)
    #expect(started.count == 2)
    #expect(try serverAnswers(home.cluster.status()))
  }

  @Test func destroyStopsTheServerAndRemovesTheData() throws {
    let home = try TestHome()
    try home.cluster.start()
    let status = try home.cluster.status()
    let pid = try #require(status.pid)

    try home.cluster.destroy()

    #expect(!FileManager.default.fileExists(atPath: status.dataDirectory))
    #expect(!FileManager.default.fileExists(atPath: status.socketDirectory))
    #expect(!processIsAlive(pid))
    let after = try home.cluster.status()
    #expect(!after.initialized)
    #expect(!after.running)
  }

  @Test func serverSettingsAndDurabilityReachTheServerConfiguration() throws {
    let home = try TestHome(serverSettings: ["max_connections": "37", "application_name": "it's kpstock"])
    try home.cluster.start()
    let settings = try String(
      contentsOfFile: home.path + "/data/" + ServerSettings.includedFileName, encoding: .utf8)

    #expect(settings.contains("max_connections = '37'"))
    #expect(settings.contains("application_name = 'it''s kpstock'"))
    #expect(settings.contains("fsync = off"))
    #expect(settings.contains("listen_addresses = ''"))
    #expect(settings.contains("unix_socket_directories = '\(home.path)/run'"))
    #expect(settings.contains("client_connection_check_interval = '2s'"))
    let pidFile = try String(contentsOfFile: home.path + "/data/postmaster.pid", encoding: .utf8)
    #expect(pidFile.contains("\(home.path)/run"))
  }

  @Test func textIsComparedBytewiseWhileCharacterClassesFollowUTF8() throws {
    let home = try TestHome()
    try home.cluster.start()
    let answer = try psqlAnswer(
      home, "SELECT datcollate || ' ' || datctype || ' ' || upper('ñandú') FROM pg_database WHERE datname = 'postgres'")
    if ProcessRunner.localeIsAvailable("C.UTF-8") {
      #expect(answer == "C C.UTF-8 ÑANDÚ")
    } else {
      #expect(answer.hasPrefix("C C "))
    }
  }

  /// The running server, not only its settings file: no TCP port, and a socket only its own user may open.
  @Test func theRunningServerListensOnlyOnItsPrivateSocket() throws {
    let home = try TestHome()
    try home.cluster.start()
    let answer = try psqlAnswer(
      home, "SELECT '[' || current_setting('listen_addresses') || '] ' || current_setting('unix_socket_permissions')")
    #expect(answer == "[] 0700")
    #expect(permissions(of: try home.cluster.status().socketDirectory) == 0o700)
  }

  /// What `psql` prints for one query to the running cluster, through its socket, as the server's user would run it.
  private func psqlAnswer(_ home: borrowing TestHome, _ sql: String) throws -> String {
    let status = try home.cluster.status()
    let binaries = try BinaryLocator.locate(configured: nil, environment: ProcessInfo.processInfo.environment)
    let psql = try #require(BinaryLocator.clientTool("psql", near: binaries, environment: [:]))
    let output = home.path + "/psql-\(UUID().uuidString).txt"
    let result = try ProcessRunner.run(
      psql,
      [
        "-X", "-A", "-t", "-h", status.socketDirectory, "-p", "5432", "-U", home.cluster.configuration.superuser,
        "-d", "postgres", "-c", sql,
      ],
      environment: ProcessRunner.childEnvironment(account: try ServerAccount.resolve()), outputPath: output)
    #expect(result.succeeded)
    return try String(contentsOfFile: output, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  @Test func invalidServerSettingFailsWithTheServerLogReason() throws {
    let home = try TestHome(serverSettings: ["max_connections": "many"])
    let error = #expect(throws: ClusterError.self) { try home.cluster.start() }
    #expect(error?.kind == .startFailed)
    #expect(error?.description.contains("max_connections") == true)
  }

  @Test(.enabled(if: geteuid() == 0, "only root hands the cluster to the postgres user"))
  func homeUnreachableByThePostgresUserIsAClearError() throws {
    let path = "/root/kpstock-cluster-test-\(UUID().uuidString.lowercased())"
    defer { try? FileManager.default.removeItem(atPath: path) }
    let cluster = EmbeddedCluster(configuration: ClusterConfiguration(home: path, durable: false))

    let error = #expect(throws: ClusterError.self) { try cluster.start() }
    #expect(error?.kind == .homeUnreachable)
    #expect(error?.description.contains("KPSTOCK_HOME") == true)
  }

  @Test func missingBinariesGiveAClearError() throws {
    let empty = "/tmp/kpstock-cluster-test-bin-\(UUID().uuidString.lowercased())"
    try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: empty) }
    let home = try TestHome(binDirectory: empty)

    let error = #expect(throws: ClusterError.self) { try home.cluster.start() }
    #expect(error?.kind == .binariesNotFound)
    #expect(error?.description.contains("apt-get install postgresql") == true)
    #expect(try home.cluster.status().binDirectory == nil)
  }
}

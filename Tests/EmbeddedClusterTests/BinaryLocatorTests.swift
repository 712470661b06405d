import Foundation
import Testing

@testable import EmbeddedCluster

@Suite("PostgreSQL binary discovery")
struct BinaryLocatorTests {
  /// Fake tool folders: discovery only checks for executable files named initdb and pg_ctl.
  private final class FakeRoot {
    let path = "/tmp/kpstock-cluster-test-bins-\(UUID().uuidString.lowercased())"

    func makeBin(_ relative: String, tools: [String] = BinaryLocator.serverTools) throws -> String {
      let directory = path + "/" + relative
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      for tool in tools {
        let file = directory + "/" + tool
        try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: file))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file)
      }
      return directory
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
  }

  @Test func configuredDirectoryWinsOverEnvironmentAndPath() throws {
    let root = FakeRoot()
    let configured = try root.makeBin("configured")
    let fromEnvironment = try root.makeBin("env")
    let environment = ["KPSTOCK_PG_BIN": fromEnvironment, "PATH": fromEnvironment]
    let found = try BinaryLocator.locate(configured: configured, environment: environment, versionedRoot: root.path)
    #expect(found.directory == configured)
  }

  @Test func environmentOverrideWinsOverPath() throws {
    let root = FakeRoot()
    let fromEnvironment = try root.makeBin("env")
    let onPath = try root.makeBin("path")
    let found = try BinaryLocator.locate(
      configured: nil, environment: ["KPSTOCK_PG_BIN": fromEnvironment, "PATH": onPath], versionedRoot: root.path)
    #expect(found.directory == fromEnvironment)
  }

  @Test func pathDirectoryNeedsBothInitdbAndPgCtl() throws {
    let root = FakeRoot()
    let onlyInitdb = try root.makeBin("partial", tools: ["initdb"])
    let complete = try root.makeBin("complete")
    let found = try BinaryLocator.locate(
      configured: nil, environment: ["PATH": "\(onlyInitdb):\(complete)"], versionedRoot: root.path + "/none")
    #expect(found.directory == complete)
  }

  @Test func highestVersionedDirectoryIsChosenWhenNothingIsOnPath() throws {
    let root = FakeRoot()
    _ = try root.makeBin("9.6/bin")
    let fifteen = try root.makeBin("15/bin")
    _ = try root.makeBin("16/bin", tools: ["initdb"])
    _ = try root.makeBin("notes/bin")
    let found = try BinaryLocator.locate(
      configured: nil, environment: ["PATH": "/nonexistent"], versionedRoot: root.path)
    #expect(found.directory == fifteen)
  }

  @Test func nothingFoundExplainsHowToInstall() {
    let error = #expect(throws: ClusterError.self) {
      try BinaryLocator.locate(configured: nil, environment: [:], versionedRoot: "/nonexistent")
    }
    #expect(error?.kind == .binariesNotFound)
    #expect(
      error?.description
        == "PostgreSQL server binaries not found; install the postgresql package (apt-get install postgresql) "
        + "or set KPSTOCK_PG_BIN")
  }

  @Test func explicitEnvironmentOverrideWithoutBinariesIsAnErrorNotAFallback() throws {
    let root = FakeRoot()
    let empty = try root.makeBin("empty", tools: [])
    let onPath = try root.makeBin("path")
    let error = #expect(throws: ClusterError.self) {
      try BinaryLocator.locate(
        configured: nil, environment: ["KPSTOCK_PG_BIN": empty, "PATH": onPath], versionedRoot: root.path)
    }
    #expect(error?.description.contains("KPSTOCK_PG_BIN") == true)
  }

  @Test func childEnvironmentDropsPostgresConnectionVariables() {
    let account = ServerAccount(switchedUser: nil, uid: 1000, gid: 1000, homeDirectory: nil, supplementaryGroups: [])
    let environment = ProcessRunner.childEnvironment(
      ["PGHOST": "elsewhere", "PGDATA": "/d", "PGPORT": "1", "PATH": "/usr/bin", "KPSTOCK_PG_BIN": "/b"],
      account: account)
    #expect(environment["PGHOST"] == nil)
    #expect(environment["PGDATA"] == nil)
    #expect(environment["PGPORT"] == nil)
    #expect(environment["PATH"] == "/usr/bin")
    #expect(environment["KPSTOCK_PG_BIN"] == "/b")
    #expect(environment["LC_ALL"] != nil)
  }
}

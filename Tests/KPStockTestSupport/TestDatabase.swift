import EmbeddedCluster
import Foundation
import KPStock
import Postgres

/// One throwaway PostgreSQL cluster per test process, with durability off, and a migrated,
/// reference-seeded template database that each suite clones, so suites run in parallel and never
/// see each other's rows.
public enum TestDatabase {
  public static let templateName = "kpstock_template"

  /// The running test cluster, started on first use and stopped when the process exits.
  public static func cluster() throws -> EmbeddedCluster {
    try sharedCluster.get()
  }

  /// A new database cloned from the template: schema migrated, reference data loaded.
  public static func fresh() throws -> TestDatabaseHandle {
    try create(template: templateName)
  }

  /// A new database with nothing in it, for migration tests.
  public static func empty() throws -> TestDatabaseHandle {
    try create(template: "template0")
  }

  private static func create(template: String) throws -> TestDatabaseHandle {
    let cluster = try cluster()
    let name = "test_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))"
    let admin = try Connection(connectingTo: cluster.connectionString(database: "postgres"))
    try admin.execute("CREATE DATABASE \(identifier: name) TEMPLATE \(identifier: template)")
    return TestDatabaseHandle(name: name, conninfo: cluster.connectionString(database: name))
  }
}

/// A database of one's own inside the test cluster.
public struct TestDatabaseHandle: Sendable {
  public let name: String
  /// libpq conninfo; also usable as `DATABASE_URL` for the kpstock binary.
  public let conninfo: String

  public func connect() throws -> Connection {
    try Connection(connectingTo: conninfo)
  }

  /// A store on this database as it is, neither migrated nor moved to the programme's time zone.
  public func store() throws -> Store {
    Store(try connect())
  }
}

/// Stops and removes clusters left by test processes that died before their exit handler ran
/// (a crash, or an interrupted run), so they do not pile up on a developer's machine.
private func removeAbandonedClusters() {
  guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/tmp") else { return }
  for name in names where name.hasPrefix("kpstock-test-") {
    let parts = name.split(separator: "-")
    guard parts.count == 4, let pid = Int32(parts[2]), kill(pid, 0) != 0, errno == ESRCH else { continue }
    let home = "/tmp/" + name
    try? EmbeddedCluster(configuration: ClusterConfiguration(home: home, durable: false)).destroy()
    try? FileManager.default.removeItem(atPath: home)
  }
}

private let sharedCluster: Result<EmbeddedCluster, any Error> = Result {
  removeAbandonedClusters()
  let home = "/tmp/kpstock-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
  try FileManager.default.createDirectory(
    atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
  let cluster = EmbeddedCluster(
    configuration: ClusterConfiguration(
      home: home, durable: false, serverSettings: ["max_connections": "300", "shared_buffers": "64MB"]))
  try cluster.start()
  atexit {
    if case .success(let cluster) = sharedCluster {
      try? cluster.destroy()
      try? FileManager.default.removeItem(atPath: cluster.configuration.home)
    }
  }
  let admin = try Connection(connectingTo: cluster.connectionString(database: "postgres"))
  try admin.execute("CREATE DATABASE \(identifier: TestDatabase.templateName)")
  do {
    let template = try Connection(connectingTo: cluster.connectionString(database: TestDatabase.templateName))
    try Store.prepare(template)
  }
  return cluster
}

/// Opens a test database the way every kpstock command does (migrated, in the programme's time zone).
public func openAsKPStock(_ database: TestDatabaseHandle) throws -> Store {
  try Store.open(conninfo: database.conninfo)
}

/// The test gave up waiting for another session to block.
public struct NoSessionWaited: Error, CustomStringConvertible {
  public var description: String { "no session of the test database waited on a lock within the time allowed" }
}

extension TestDatabaseHandle {
  /// Returns once some session of this database waits on a lock: the moment to commit the transaction it waits
  /// for. Each test has a database of its own, so only that test's sessions count.
  public func waitUntilASessionWaitsOnALock(seconds: Double = 60) throws {
    let observer = try connect()
    let deadline = Date().addingTimeInterval(seconds)
    while try observer.query(
      """
      SELECT count(*) AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'
      """
    )[0].decode("n", as: Int.self) == 0 {
      guard Date() < deadline else { throw NoSessionWaited() }
      usleep(20_000)
    }
  }
}

/// The owner's conninfo of the embedded cluster kept in `home` (its superuser), for checking from a test what a
/// `kpstock` process wrote there.
public func clusterConnectionString(home: String) -> String {
  EmbeddedCluster(configuration: ClusterConfiguration(home: home)).connectionString()
}

import Foundation
import Logging

/// A private PostgreSQL cluster under one home folder, reachable only through a unix socket in a 0700 folder.
///
/// Trust authentication is safe here because the socket folder's permissions are the access control.
public struct EmbeddedCluster: Sendable {
  public let configuration: ClusterConfiguration
  let paths: ClusterPaths
  let logger = Logger(label: "kpstock.cluster")

  public init(configuration: ClusterConfiguration) {
    self.configuration = configuration
    self.paths = ClusterPaths(home: configuration.home)
  }

  public func status() throws -> ClusterStatus {
    let binaries = try? BinaryLocator.locate(
      configured: configuration.binDirectory, environment: ProcessInfo.processInfo.environment)
    let version = FileSystem.readText(paths.versionFile)?.trimmingCharacters(in: .whitespacesAndNewlines)
    let pid = PostmasterProbe.state(pidFile: paths.postmasterPID).runningPID
    return ClusterStatus(
      home: paths.home,
      dataDirectory: paths.dataDirectory,
      socketDirectory: paths.socketDirectory,
      logFile: paths.serverLog,
      initialized: paths.isInitialized,
      running: pid != nil,
      pid: pid,
      serverVersion: version.flatMap { $0.isEmpty ? nil : $0 },
      serverUser: ServerAccount.isRoot ? ServerAccount.systemUserName : nil,
      binDirectory: binaries?.directory
    )
  }

  /// Initializes (if needed) and starts (if not running); returns true if it had to start the server.
  ///
  /// The whole sequence runs under home/cluster.lock, so concurrent callers in any process see either no server or
  /// a fully started one with its database created.
  @discardableResult
  public func start() throws -> Bool {
    let context = try prepareHome()
    return try ClusterLock.withExclusiveLock(at: paths.lockFile) {
      try prepareFolders(context)
      if !paths.isInitialized {
        try initialize(context)
      }
      if let pid = PostmasterProbe.state(pidFile: paths.postmasterPID).runningPID {
        logger.debug("cluster already running", metadata: ["pid": "\(pid)", "home": "\(paths.home)"])
        return false
      }
      try writeSettings(context)
      try launchServer(context)
      try createDatabase(context)
      return true
    }
  }

  /// Creates the configured database if it has gone missing while the server ran (someone dropped it),
  /// which `start()` alone would never notice because the server is already up.
  public func createDatabaseIfMissing() throws {
    let context = try prepareHome()
    try ClusterLock.withExclusiveLock(at: paths.lockFile) { try createDatabase(context) }
  }

  public func stop() throws {
    guard FileSystem.isDirectory(paths.home) else { return }
    try ClusterLock.withExclusiveLock(at: paths.lockFile) { try stopWhileLocked() }
  }

  /// Removes data/, run/ and log/. cluster.lock stays: deleting a lock file others may be waiting on would let a
  /// later process lock a fresh file while an earlier one still holds the old one.
  public func destroy() throws {
    guard FileSystem.isDirectory(paths.home) else { return }
    try ClusterLock.withExclusiveLock(at: paths.lockFile) {
      try stopWhileLocked()
      for folder in [paths.dataDirectory, paths.socketDirectory, paths.logDirectory] {
        try FileSystem.remove(folder)
      }
      logger.debug("cluster destroyed", metadata: ["home": "\(paths.home)"])
    }
  }

  /// - Parameter user: the login to use; the cluster's superuser when nil.
  public func connectionString(database: String? = nil, user: String? = nil) -> String {
    [
      ("host", paths.socketDirectory),
      ("port", String(configuration.port)),
      ("user", user ?? configuration.superuser),
      ("dbname", database ?? configuration.database),
    ]
    .map { "\($0.0)=\(Self.conninfoValue($0.1))" }
    .joined(separator: " ")
  }

  static func conninfoValue(_ value: String) -> String {
    let needsQuotes = value.isEmpty || value.contains { $0.isWhitespace || $0 == "'" || $0 == "\\" }
    guard needsQuotes else { return value }
    return "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
  }
}

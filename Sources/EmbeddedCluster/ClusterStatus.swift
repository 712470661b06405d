public struct ClusterStatus: Sendable, Equatable {
  public var home: String
  public var dataDirectory: String
  public var socketDirectory: String
  public var logFile: String
  public var initialized: Bool
  public var running: Bool
  public var pid: Int32?
  /// The major version recorded in the data folder's PG_VERSION.
  public var serverVersion: String?
  /// "postgres" when kpstock runs as root, because PostgreSQL refuses to run as root.
  public var serverUser: String?
  /// nil when no binaries could be found; status never fails for that reason.
  public var binDirectory: String?

  public init(
    home: String,
    dataDirectory: String,
    socketDirectory: String,
    logFile: String,
    initialized: Bool,
    running: Bool,
    pid: Int32?,
    serverVersion: String?,
    serverUser: String?,
    binDirectory: String?
  ) {
    self.home = home
    self.dataDirectory = dataDirectory
    self.socketDirectory = socketDirectory
    self.logFile = logFile
    self.initialized = initialized
    self.running = running
    self.pid = pid
    self.serverVersion = serverVersion
    self.serverUser = serverUser
    self.binDirectory = binDirectory
  }
}

import Foundation
import Logging

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The steps behind start, stop and destroy. All but prepareHome run under cluster.lock; prepareHome creates the
/// home folder the lock file lives in.
extension EmbeddedCluster {
  /// After a SIGKILL, old backends keep the shared memory attached for a moment and pg_ctl start fails meanwhile.
  private static let recoveryWindow: Duration = .seconds(15)
  private static let retryPause: useconds_t = 500_000
  /// sun_path holds 108 bytes including the terminating NUL.
  private static let maximumSocketPathBytes = 107

  struct Context {
    let binaries: PostgresBinaries
    let account: ServerAccount
    let environment: [String: String]
  }

  func prepareHome() throws -> Context {
    try validate()
    let environment = ProcessInfo.processInfo.environment
    let binaries = try BinaryLocator.locate(configured: configuration.binDirectory, environment: environment)
    let account = try ServerAccount.resolve()
    if try FileSystem.makeDirectoryWithParents(paths.home, mode: 0o700) {
      try account.giveOwnership(of: paths.home)
    }
    try account.verifyCanReach(paths.home)
    return Context(
      binaries: binaries, account: account,
      environment: ProcessRunner.childEnvironment(environment, account: account))
  }

  func validate() throws {
    if configuration.superuser.isEmpty || configuration.database.isEmpty {
      throw ClusterError(.invalidConfiguration, "superuser and database names must not be empty")
    }
    if paths.home.contains(where: { $0 == "\"" || $0.isNewline }) {
      throw ClusterError(.invalidConfiguration, "cluster home \(paths.home) must not contain quotes or line breaks")
    }
    let socket = paths.socketFile(port: configuration.port)
    if socket.utf8.count > Self.maximumSocketPathBytes {
      throw ClusterError(
        .invalidConfiguration,
        "cluster home \(paths.home) is too long for a unix socket path (\(socket) exceeds "
          + "\(Self.maximumSocketPathBytes) bytes); set KPSTOCK_HOME to a shorter path")
    }
  }

  func prepareFolders(_ context: Context) throws {
    for folder in [paths.dataDirectory, paths.socketDirectory, paths.logDirectory]
    where try FileSystem.makeDirectory(folder, mode: 0o700) {
      try context.account.giveOwnership(of: folder)
    }
    if FileSystem.mode(of: paths.socketDirectory) != 0o700 {
      try FileSystem.setMode(paths.socketDirectory, 0o700)
    }
  }

  func initialize(_ context: Context) throws {
    try clearInterruptedInitdb()
    var arguments = [
      "-D", paths.dataDirectory, "-E", "UTF8", "--locale=\(Self.clusterLocale)", "--lc-collate=C",
      "-U", configuration.superuser, "--auth=trust",
    ]
    if !configuration.durable {
      arguments.append("--no-sync")
    }
    logger.debug("running initdb", metadata: ["data": "\(paths.dataDirectory)"])
    let log = paths.toolLog("initdb")
    let result = try run(context.binaries.initdb, arguments, context: context, log: log)
    guard result.succeeded else {
      throw ClusterError(.initdbFailed, "initdb failed (\(result)); see \(log)\(LogTail.suffix(of: log))")
    }
  }

  /// initdb cleans up after itself on errors and signals it can catch; only a SIGKILL or power loss leaves a
  /// half-written folder, recognisable by PG_VERSION, which is written first.
  func clearInterruptedInitdb() throws {
    let leftovers = FileSystem.contents(ofDirectory: paths.dataDirectory)
    guard !leftovers.isEmpty else { return }
    guard FileSystem.exists(paths.versionFile) else {
      throw ClusterError(
        .invalidConfiguration,
        "\(paths.dataDirectory) is not empty but holds no PostgreSQL cluster; remove it or set KPSTOCK_HOME elsewhere")
    }
    logger.debug("removing an interrupted initdb", metadata: ["data": "\(paths.dataDirectory)"])
    for entry in leftovers {
      try FileSystem.remove(joinPath(paths.dataDirectory, entry))
    }
  }

  /// Character classes (upper, lower, regular expressions) from C.UTF-8 where the system has it; text is compared
  /// bytewise (`--lc-collate=C`) whatever it has. In UTF-8, byte order is code point order, the order C.UTF-8 sorts
  /// in, so nothing reads differently; but PostgreSQL treats only a collation named C or POSIX as bytewise, and
  /// compares under any other through strcoll, without abbreviated sort keys. Every index and sort on the ledger's
  /// code columns pays that: a simulated national week took 7 % longer under C.UTF-8.
  static var clusterLocale: String {
    ProcessRunner.localeIsAvailable("C.UTF-8") ? "C.UTF-8" : "C"
  }

  func writeSettings(_ context: Context) throws {
    let version = FileSystem.readText(paths.versionFile).flatMap {
      Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    let settings = try ServerSettings.render(
      configuration, socketDirectory: paths.socketDirectory, serverMajorVersion: version)
    try FileSystem.writeText(settings, to: paths.kpstockSettingsFile)
    try context.account.giveOwnership(of: paths.kpstockSettingsFile)
    let main = FileSystem.readText(paths.mainSettingsFile) ?? ""
    let included = main.split(whereSeparator: \.isNewline).contains {
      $0.trimmingCharacters(in: .whitespaces) == ServerSettings.includeDirective
    }
    if !included {
      try FileSystem.appendText(
        "\n# kpstock's settings; keep this line last\n\(ServerSettings.includeDirective)\n", to: paths.mainSettingsFile)
    }
  }

  func launchServer(_ context: Context) throws {
    let deadline = ContinuousClock.now + Self.recoveryWindow
    let recovering = PostmasterProbe.state(pidFile: paths.postmasterPID) != .absent
    let arguments = ["start", "-D", paths.dataDirectory, "-w", "-t", "60", "-l", paths.serverLog]
    let log = paths.toolLog("pg_ctl")
    while true {
      try removeLockFilesOfDeadServer()
      let serverLogStart = FileSystem.size(of: paths.serverLog)
      logger.debug("running pg_ctl start", metadata: ["data": "\(paths.dataDirectory)"])
      let result = try run(context.binaries.pgCtl, arguments, context: context, log: log)
      let after = PostmasterProbe.state(pidFile: paths.postmasterPID)
      if result.succeeded || after.runningPID != nil {
        return
      }
      guard recovering || after != .absent, ContinuousClock.now < deadline else {
        let reason =
          LogTail.failureReason(inServerLog: FileSystem.lastLines(of: paths.serverLog, after: serverLogStart))
          ?? FileSystem.lastLines(of: log).last
        throw ClusterError(
          .startFailed,
          "pg_ctl start failed (\(result)); see \(paths.serverLog)\(reason.map { ": \($0)" } ?? "")")
      }
      logger.debug("pg_ctl start failed after an unclean shutdown; retrying", metadata: ["result": "\(result)"])
      usleep(Self.retryPause)
    }
  }

  func removeLockFilesOfDeadServer() throws {
    let state = PostmasterProbe.state(pidFile: paths.postmasterPID)
    guard let pid = state.needlesslyBlockedPID else { return }
    let files = PostmasterProbe.lockFiles(
      naming: pid, pidFile: paths.postmasterPID, socketDirectory: paths.socketDirectory)
    logger.debug("removing lock files of a process that is not a server", metadata: ["state": "\(state)"])
    for file in files {
      try FileSystem.remove(file)
    }
  }

  /// Runs after every server start rather than only after initdb, so a crash between the two cannot leave the
  /// database missing for good.
  func createDatabase(_ context: Context) throws {
    guard
      let createdb = BinaryLocator.clientTool(
        "createdb", near: context.binaries, environment: ProcessInfo.processInfo.environment)
    else {
      throw ClusterError(
        .createDatabaseFailed,
        "createdb not found in \(context.binaries.directory) or on PATH; cannot create database "
          + "\(configuration.database)")
    }
    let arguments = [
      "-h", paths.socketDirectory, "-p", String(configuration.port), "-U", configuration.superuser, "--",
      configuration.database,
    ]
    let log = paths.toolLog("createdb")
    let result = try run(createdb, arguments, context: context, log: log)
    if result.succeeded {
      logger.debug("created database", metadata: ["database": "\(configuration.database)"])
      return
    }
    if FileSystem.lastLines(of: log).contains(where: { $0.contains("already exists") }) {
      return
    }
    throw ClusterError(
      .createDatabaseFailed,
      "createdb \(configuration.database) failed (\(result)); see \(log)\(LogTail.suffix(of: log))")
  }

  func stopWhileLocked() throws {
    guard PostmasterProbe.state(pidFile: paths.postmasterPID).runningPID != nil else { return }
    let environment = ProcessInfo.processInfo.environment
    let binaries = try BinaryLocator.locate(configured: configuration.binDirectory, environment: environment)
    let account = try ServerAccount.resolve()
    let context = Context(
      binaries: binaries, account: account,
      environment: ProcessRunner.childEnvironment(environment, account: account))
    let log = paths.toolLog("pg_ctl")
    logger.debug("running pg_ctl stop", metadata: ["data": "\(paths.dataDirectory)"])
    let result = try run(
      binaries.pgCtl, ["stop", "-D", paths.dataDirectory, "-m", "fast", "-w", "-t", "60"], context: context, log: log)
    if !result.succeeded && PostmasterProbe.state(pidFile: paths.postmasterPID).runningPID != nil {
      throw ClusterError(.stopFailed, "pg_ctl stop failed (\(result)); see \(log)\(LogTail.suffix(of: log))")
    }
  }

  func run(
    _ tool: String, _ arguments: [String], context: Context, log: String
  ) throws -> ProcessRunner.Termination {
    let command = try context.account.command(tool, arguments)
    return try ProcessRunner.run(
      command.executable, command.arguments, environment: context.environment, outputPath: log,
      workingDirectory: paths.home)
  }
}

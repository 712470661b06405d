import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What postmaster.pid says about the server, checked against the live process table.
enum PostmasterState: Equatable, Sendable {
  case absent
  case running(pid_t)
  /// Left behind by a server that was killed; PostgreSQL clears it itself once old backends are gone.
  case dead(pid_t)
  /// Killed but not yet reaped by init (some container inits reap late or never); PostgreSQL's kill(pid, 0) check
  /// takes it for a live server and refuses to start with "lock file already exists".
  case zombie(pid_t)
  /// The pid now belongs to an unrelated process (typically after a reboot), which PostgreSQL also mistakes for a
  /// live server.
  case foreign(pid_t)

  var runningPID: pid_t? {
    if case .running(let pid) = self { return pid }
    return nil
  }

  /// Removing postmaster.pid in these states is safe: since PostgreSQL 12 the shared-memory-in-use check keys on
  /// the data folder, not on this file, so orphaned backends still block a second server.
  var needlesslyBlockedPID: pid_t? {
    switch self {
    case .zombie(let pid), .foreign(let pid): pid
    case .absent, .running, .dead: nil
    }
  }
}

enum PostmasterProbe {
  static func state(pidFile: String) -> PostmasterState {
    guard let pid = firstLinePID(of: pidFile) else { return .absent }
    guard exists(pid) else { return .dead(pid) }
    if isZombie(pid) { return .zombie(pid) }
    return isPostgres(pid) ? .running(pid) : .foreign(pid)
  }

  /// The socket lock files hold the same pid as postmaster.pid and block a new server the same way.
  static func lockFiles(naming pid: pid_t, pidFile: String, socketDirectory: String) -> [String] {
    let socketLocks = FileSystem.contents(ofDirectory: socketDirectory)
      .filter { $0.hasPrefix(".s.PGSQL.") && $0.hasSuffix(".lock") }
      .map { joinPath(socketDirectory, $0) }
    return ([pidFile] + socketLocks).filter { firstLinePID(of: $0) == pid }
  }

  static func isAlive(_ pid: pid_t) -> Bool {
    exists(pid) && !isZombie(pid)
  }

  private static func firstLinePID(of file: String) -> pid_t? {
    guard let text = FileSystem.readText(file),
      let firstLine = text.split(whereSeparator: \.isNewline).first,
      let pid = pid_t(firstLine.trimmingCharacters(in: .whitespaces)), pid > 0
    else { return nil }
    return pid
  }

  private static func exists(_ pid: pid_t) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
  }

  /// A zombie answers kill(pid, 0) but will never serve again; /proc tells them apart where it exists.
  private static func isZombie(_ pid: pid_t) -> Bool {
    guard let stat = FileSystem.readText("/proc/\(pid)/stat"),
      let closing = stat.lastIndex(of: ")")
    else { return false }
    let state = stat[stat.index(after: closing)...].trimmingCharacters(in: .whitespaces).first
    return state == "Z" || state == "X"
  }

  private static func isPostgres(_ pid: pid_t) -> Bool {
    guard let command = FileSystem.readText("/proc/\(pid)/comm") else { return true }
    let name = command.trimmingCharacters(in: .whitespacesAndNewlines)
    return name == "postgres" || name == "postmaster"
  }
}

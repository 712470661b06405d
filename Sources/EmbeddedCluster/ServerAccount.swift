#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The operating-system user that owns the data folder and runs the server.
///
/// initdb and postgres refuse to run as root, so a root kpstock hands the cluster to the postgres system user.
struct ServerAccount: Sendable {
  static let systemUserName = "postgres"

  /// nil means the server runs as the calling user and no identity switch is needed.
  let switchedUser: String?
  let uid: uid_t
  let gid: gid_t
  let homeDirectory: String?
  let supplementaryGroups: [gid_t]

  static var isRoot: Bool { geteuid() == 0 }

  static func resolve() throws -> ServerAccount {
    guard isRoot else {
      return ServerAccount(
        switchedUser: nil, uid: geteuid(), gid: getegid(), homeDirectory: nil, supplementaryGroups: [])
    }
    guard let entry = PasswordEntry.lookup(name: systemUserName) else {
      throw ClusterError(
        .serverAccountMissing,
        "kpstock runs as root, so PostgreSQL must run as the '\(systemUserName)' system user, which does not exist; "
          + "install the postgresql package or run kpstock as a regular user")
    }
    return ServerAccount(
      switchedUser: systemUserName, uid: entry.uid, gid: entry.gid, homeDirectory: entry.home,
      supplementaryGroups: groups(of: systemUserName, primary: entry.gid))
  }

  static func homeOfCurrentUser() -> String? {
    PasswordEntry.lookup(uid: geteuid())?.home
  }

  /// Rewrites a command so it runs as the server account; setpriv avoids PAM and keeps the environment.
  func command(_ executable: String, _ arguments: [String]) throws -> (executable: String, arguments: [String]) {
    guard let switchedUser else { return (executable, arguments) }
    if let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first(where: FileSystem.isExecutableFile) {
      return (setpriv, ["--reuid=\(uid)", "--regid=\(gid)", "--init-groups", "--", executable] + arguments)
    }
    if let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].first(
      where: FileSystem.isExecutableFile)
    {
      return (runuser, ["-u", switchedUser, "--", executable] + arguments)
    }
    throw ClusterError(
      .processLaunch, "neither setpriv nor runuser is available to run PostgreSQL as the \(switchedUser) user")
  }

  func giveOwnership(of path: String) throws {
    guard switchedUser != nil else { return }
    try FileSystem.changeOwner(path, uid: uid, gid: gid)
  }

  /// Fails early with advice instead of letting initdb or pg_ctl fail later with "Permission denied".
  func verifyCanReach(_ path: String) throws {
    guard let switchedUser else { return }
    var prefix = ""
    for component in path.split(separator: "/", omittingEmptySubsequences: true) {
      prefix += "/" + component
      var info = stat()
      guard stat(prefix, &info) == 0 else { break }
      guard canSearch(info) else {
        throw ClusterError(
          .homeUnreachable,
          "the \(switchedUser) user cannot reach \(path) because \(prefix) is not searchable by it; "
            + "set KPSTOCK_HOME to a folder the \(switchedUser) user can reach, e.g. /var/lib/kpstock")
      }
    }
  }

  private func canSearch(_ info: stat) -> Bool {
    let mode = info.st_mode
    if info.st_uid == uid { return mode & 0o100 != 0 }
    if info.st_gid == gid || supplementaryGroups.contains(info.st_gid) { return mode & 0o010 != 0 }
    return mode & 0o001 != 0
  }

  private static func groups(of user: String, primary: gid_t) -> [gid_t] {
    var count: Int32 = 32
    while count < 65_536 {
      var groups = [gid_t](repeating: 0, count: Int(count))
      var found = count
      #if canImport(Darwin)
        let result = groups.withUnsafeMutableBufferPointer { buffer in
          guard let base = buffer.baseAddress else { return Int32(-1) }
          return base.withMemoryRebound(to: Int32.self, capacity: buffer.count) {
            getgrouplist(user, Int32(bitPattern: primary), $0, &found)
          }
        }
      #else
        let result = getgrouplist(user, primary, &groups, &found)
      #endif
      if result >= 0 {
        return Array(groups.prefix(Int(found)))
      }
      count = max(found, count * 2)
    }
    return [primary]
  }
}

/// getpwnam_r/getpwuid_r copies, since the non-reentrant variants share static storage across threads.
struct PasswordEntry {
  let uid: uid_t
  let gid: gid_t
  let home: String

  static func lookup(name: String) -> PasswordEntry? {
    withEntry { getpwnam_r(name, &$0, $1, $2, &$3) }
  }

  static func lookup(uid: uid_t) -> PasswordEntry? {
    withEntry { getpwuid_r(uid, &$0, $1, $2, &$3) }
  }

  private static func withEntry(
    _ call: (inout passwd, UnsafeMutablePointer<CChar>, Int, inout UnsafeMutablePointer<passwd>?) -> Int32
  ) -> PasswordEntry? {
    var size = 16 * 1024
    while size <= 1024 * 1024 {
      var record = passwd()
      var result: UnsafeMutablePointer<passwd>?
      let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
      defer { buffer.deallocate() }
      let status = call(&record, buffer, size, &result)
      if status == ERANGE {
        size *= 4
        continue
      }
      guard status == 0, result != nil else { return nil }
      let home = record.pw_dir.map { String(cString: $0) } ?? "/"
      return PasswordEntry(uid: record.pw_uid, gid: record.pw_gid, home: home)
    }
    return nil
  }
}

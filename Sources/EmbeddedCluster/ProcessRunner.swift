import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Runs a child with posix_spawn and waitpid.
///
/// Foundation's Process is avoided: on Linux it can hang after `pg_ctl start`, because the daemonized postmaster
/// inherits the descriptor Process watches. Here the child gets only stdin from /dev/null and stdout+stderr into a
/// file, and every other descriptor is closed, so the server can never hold anything of ours open.
enum ProcessRunner {
  enum Termination: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    var succeeded: Bool { self == .exited(0) }

    var description: String {
      switch self {
      case .exited(let code): "exit \(code)"
      case .signaled(let signal): "signal \(signal)"
      }
    }
  }

  /// Connection variables would redirect client tools, and PGDATA/PGPORT would override the server's own settings.
  static func childEnvironment(
    _ base: [String: String] = ProcessInfo.processInfo.environment,
    account: ServerAccount
  ) -> [String: String] {
    var environment = base.filter { !$0.key.hasPrefix("PG") }
    // English messages keep the log tails quoted in errors (and the "already exists" check) predictable.
    environment["LC_ALL"] = localeIsAvailable("C.UTF-8") ? "C.UTF-8" : "C"
    if let user = account.switchedUser {
      environment["USER"] = user
      environment["LOGNAME"] = user
      if let home = account.homeDirectory { environment["HOME"] = home }
    }
    return environment
  }

  static func localeIsAvailable(_ name: String) -> Bool {
    guard let locale = newlocale(LC_CTYPE_MASK, name, nil) else { return false }
    freelocale(locale)
    return true
  }

  /// Blocks the calling thread until the child exits.
  static func run(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String],
    outputPath: String?,
    workingDirectory: String? = nil
  ) throws -> Termination {
    let output = outputPath ?? "/dev/null"
    let outputDescriptor = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard outputDescriptor >= 0 else {
      throw ClusterError(.fileSystem, "cannot open \(output): \(FileSystem.errorText())")
    }
    defer { close(outputDescriptor) }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 1)
    posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 2)
    if let workingDirectory {
      SpawnExtensions.changeDirectory(&actions, workingDirectory)
    }
    SpawnExtensions.closeInheritedDescriptors(&actions)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var emptyMask = sigset_t()
    sigemptyset(&emptyMask)
    posix_spawnattr_setsigmask(&attributes, &emptyMask)
    var defaultSignals = sigset_t()
    sigemptyset(&defaultSignals)
    for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM] {
      sigaddset(&defaultSignals, signal)
    }
    posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
    var flags = Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
    #if canImport(Darwin)
      flags |= Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
    #endif
    posix_spawnattr_setflags(&attributes, Int16(flags))

    let entries = environment.map { key, value in "\(key)=\(value)" }.sorted()
    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = entries.map { strdup($0) } + [nil]
    defer {
      for pointer in argv + envp { free(pointer) }
    }
    var pid = pid_t()
    let spawnResult = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
    guard spawnResult == 0 else {
      throw ClusterError(.processLaunch, "cannot run \(executable): \(FileSystem.errorText(spawnResult))")
    }

    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
      let code = errno
      guard code == EINTR else {
        throw ClusterError(.processLaunch, "cannot wait for \(executable): \(FileSystem.errorText(code))")
      }
    }
    // WIFEXITED/WEXITSTATUS are macros Swift cannot import.
    let signal = status & 0x7f
    return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
  }
}

/// glibc's *_np spawn actions are declared only under _GNU_SOURCE, which Swift's Glibc module does not define, so
/// they are looked up at run time; older C libraries fall back to closing each open descriptor explicitly.
private enum SpawnExtensions {
  #if canImport(Glibc)
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias ChangeDirectory =
      @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
      guard let handle = dlopen(nil, RTLD_NOW) else { return nil }
      defer { dlclose(handle) }
      return dlsym(handle, name)
    }
  #endif

  static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
    #if canImport(Glibc)
      if let closeFrom = symbol("posix_spawn_file_actions_addclosefrom_np") {
        if unsafeBitCast(closeFrom, to: CloseFrom.self)(&actions, 3) == 0 { return }
      }
      let open = FileSystem.contents(ofDirectory: "/proc/self/fd").compactMap { Int32($0) }.filter { $0 > 2 }
      for descriptor in open {
        posix_spawn_file_actions_addclose(&actions, descriptor)
      }
    #endif
  }

  static func changeDirectory(_ actions: inout posix_spawn_file_actions_t, _ directory: String) {
    #if canImport(Glibc)
      guard let changeDirectory = symbol("posix_spawn_file_actions_addchdir_np") else { return }
      _ = unsafeBitCast(changeDirectory, to: ChangeDirectory.self)(&actions, directory)
    #endif
  }
}

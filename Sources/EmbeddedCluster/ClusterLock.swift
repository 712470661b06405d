#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Serializes init, start, stop and destroy across kpstock processes and threads.
///
/// flock belongs to the open file description, so two threads of one process exclude each other as two processes
/// do, and the kernel drops the lock if the holder dies. The descriptor is close-on-exec so the server never inherits
/// it, which would keep the lock held for the server's lifetime.
enum ClusterLock {
  static func withExclusiveLock<T>(at path: String, _ body: () throws -> T) throws -> T {
    let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else {
      throw ClusterError(.fileSystem, "cannot open lock file \(path): \(FileSystem.errorText())")
    }
    defer { close(descriptor) }
    while flock(descriptor, LOCK_EX) != 0 {
      let code = errno
      guard code == EINTR else {
        throw ClusterError(.fileSystem, "cannot lock \(path): \(FileSystem.errorText(code))")
      }
    }
    return try body()
  }
}

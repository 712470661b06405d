import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// POSIX calls rather than FileManager where modes and ownership matter, so every failure carries errno.
enum FileSystem {
  static func exists(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0
  }

  static func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
  }

  static func isExecutableFile(_ path: String) -> Bool {
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
    return access(path, X_OK) == 0
  }

  static func errorText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
  }

  /// Returns true when this call created the folder, so only its creator changes its owner.
  @discardableResult
  static func makeDirectory(_ path: String, mode: mode_t) throws -> Bool {
    if mkdir(path, mode) == 0 {
      // mkdir applies the umask; the socket folder's mode is the server's access control, so set it exactly.
      guard chmod(path, mode) == 0 else {
        throw ClusterError(.fileSystem, "cannot set mode of \(path): \(errorText())")
      }
      return true
    }
    let code = errno
    if code == EEXIST && isDirectory(path) {
      return false
    }
    throw ClusterError(.fileSystem, "cannot create folder \(path): \(errorText(code))")
  }

  /// Intermediate folders get 0755 so a server account other than the caller can pass through them.
  @discardableResult
  static func makeDirectoryWithParents(_ path: String, mode: mode_t) throws -> Bool {
    if isDirectory(path) { return false }
    var prefix = ""
    let components = path.split(separator: "/", omittingEmptySubsequences: true)
    for component in components.dropLast() {
      prefix += "/" + component
      try makeDirectory(prefix, mode: 0o755)
    }
    return try makeDirectory(path, mode: mode)
  }

  static func setMode(_ path: String, _ mode: mode_t) throws {
    guard chmod(path, mode) == 0 else {
      throw ClusterError(.fileSystem, "cannot set mode of \(path): \(errorText())")
    }
  }

  static func mode(of path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o7777
  }

  static func changeOwner(_ path: String, uid: uid_t, gid: gid_t) throws {
    guard chown(path, uid, gid) == 0 else {
      throw ClusterError(.fileSystem, "cannot give \(path) to the server user: \(errorText())")
    }
  }

  static func readText(_ path: String) -> String? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return String(decoding: data, as: UTF8.self)
  }

  static func writeText(_ text: String, to path: String) throws {
    do {
      try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    } catch {
      throw ClusterError(.fileSystem, "cannot write \(path): \(error.localizedDescription)")
    }
  }

  static func appendText(_ text: String, to path: String) throws {
    let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
    guard fd >= 0 else {
      throw ClusterError(.fileSystem, "cannot open \(path): \(errorText())")
    }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else {
      throw ClusterError(.fileSystem, "cannot append to \(path): \(errorText())")
    }
  }

  static func remove(_ path: String) throws {
    guard exists(path) else { return }
    do {
      try FileManager.default.removeItem(atPath: path)
    } catch {
      throw ClusterError(.fileSystem, "cannot remove \(path): \(error.localizedDescription)")
    }
  }

  static func contents(ofDirectory path: String) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
  }

  static func size(of path: String) -> UInt64 {
    var info = stat()
    guard stat(path, &info) == 0 else { return 0 }
    return UInt64(max(info.st_size, 0))
  }

  /// Reads only the end (and nothing before `offset`) so a long-lived server log never gets loaded whole.
  static func lastLines(of path: String, after offset: UInt64 = 0, maximumBytes: UInt64 = 16 * 1024) -> [String] {
    guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
    defer { try? handle.close() }
    guard let size = try? handle.seekToEnd(), size > offset else { return [] }
    let start = max(offset, size > maximumBytes ? size - maximumBytes : 0)
    guard (try? handle.seek(toOffset: start)) != nil, let data = try? handle.readToEnd() else { return [] }
    return String(decoding: data, as: UTF8.self)
      .split(whereSeparator: \.isNewline)
      .map { $0.trimmingCharacters(in: .whitespaces) }
      .filter { !$0.isEmpty }
  }
}

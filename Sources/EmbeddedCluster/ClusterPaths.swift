import Foundation

/// Every path is absolute because the server and pg_ctl run with a different working directory.
struct ClusterPaths: Sendable {
  let home: String

  init(home: String) {
    var path = home
    if !path.hasPrefix("/") {
      path = joinPath(FileManager.default.currentDirectoryPath, path)
    }
    while path.count > 1 && path.hasSuffix("/") {
      path.removeLast()
    }
    self.home = path
  }

  var dataDirectory: String { joinPath(home, "data") }
  var socketDirectory: String { joinPath(home, "run") }
  var logDirectory: String { joinPath(home, "log") }
  var serverLog: String { joinPath(logDirectory, "postgresql.log") }
  var lockFile: String { joinPath(home, "cluster.lock") }
  var postmasterPID: String { joinPath(dataDirectory, "postmaster.pid") }
  var versionFile: String { joinPath(dataDirectory, "PG_VERSION") }
  var controlFile: String { joinPath(dataDirectory, "global/pg_control") }
  var mainSettingsFile: String { joinPath(dataDirectory, "postgresql.conf") }
  var kpstockSettingsFile: String { joinPath(dataDirectory, ServerSettings.includedFileName) }

  func toolLog(_ tool: String) -> String { joinPath(logDirectory, "\(tool).log") }

  func socketFile(port: Int) -> String { joinPath(socketDirectory, ".s.PGSQL.\(port)") }

  var isInitialized: Bool {
    FileSystem.exists(versionFile) && FileSystem.exists(controlFile) && FileSystem.exists(mainSettingsFile)
  }
}

import Foundation

/// Renders kpstock's own settings file, which postgresql.conf includes last, so it is rewritten before every start
/// and configuration changes (durability, extra settings) apply at the next server start.
enum ServerSettings {
  static let includedFileName = "kpstock.conf"
  static let includeDirective = "include = '\(includedFileName)'"

  /// A client killed mid-statement (kill -9, a closed laptop) would leave its backend working, and holding its
  /// locks, until the statement ended; a pharmacist's dispense at that site would wait without a word. With this
  /// the server checks every two seconds, during a statement, that its client is still there.
  static let clientConnectionCheckInterval = "client_connection_check_interval = '2s'"

  /// Every writer of stock takes a transaction-scoped advisory lock per stock card it books (Schema/functions/
  /// 20_ledger_book.sql, stock_cards_lock), and advisory locks take slots in the server's shared lock table, which
  /// holds max_locks_per_transaction × max_connections of them. The default (64) lets one transaction take about
  /// 12,000: a national register of 1,000 sites × 15 commodities in one batch needs more.
  static let maxLocksPerTransaction = "max_locks_per_transaction = 256"

  /// What keeps the cluster on its 0700 unix socket and off the network: an extra setting comes last and would win.
  static let socketSettings: Set<String> = [
    "listen_addresses", "unix_socket_directories", "unix_socket_permissions", "unix_socket_group",
  ]

  /// - Parameter serverMajorVersion: from the data folder's PG_VERSION; settings newer than the server are left
  ///   out, since an unknown setting stops the server from starting. Nil means a current server.
  static func render(
    _ configuration: ClusterConfiguration, socketDirectory: String, serverMajorVersion: Int? = nil
  ) throws -> String {
    try validate(configuration)
    var lines = [
      "# Written by kpstock before every server start; edits here are lost. Use ALTER SYSTEM instead.",
      "listen_addresses = ''",
      "unix_socket_directories = \(quote(socketDirectoryEntry(socketDirectory)))",
      "unix_socket_permissions = 0700",
      "port = \(configuration.port)",
    ]
    lines.append(maxLocksPerTransaction)
    if (serverMajorVersion ?? 14) >= 14 { lines.append(clientConnectionCheckInterval) }
    if !configuration.durable {
      lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
    }
    for (name, value) in configuration.serverSettings.sorted(by: { $0.key < $1.key }) {
      lines.append("\(name) = \(quote(value))")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// Any setting accepts a quoted value, so quoting everything avoids guessing each setting's type.
  static func quote(_ value: String) -> String {
    "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
  }

  /// unix_socket_directories is a comma-separated list; double quotes keep a comma or space inside one entry.
  private static func socketDirectoryEntry(_ directory: String) -> String {
    directory.contains(where: { $0 == "," || $0 == " " }) ? "\"\(directory)\"" : directory
  }

  private static func validate(_ configuration: ClusterConfiguration) throws {
    guard (1...65_535).contains(configuration.port) else {
      throw ClusterError(.invalidConfiguration, "port \(configuration.port) is outside 1...65535")
    }
    for (name, value) in configuration.serverSettings {
      let validName =
        !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") }
      guard validName else {
        throw ClusterError(.invalidConfiguration, "invalid server setting name '\(name)'")
      }
      guard !socketSettings.contains(name.lowercased()) else {
        throw ClusterError(
          .invalidConfiguration,
          "server setting \(name) cannot be changed: the embedded cluster is reached only through its own 0700 socket")
      }
      guard !value.contains(where: \.isNewline) else {
        throw ClusterError(.invalidConfiguration, "server setting \(name) must not contain a line break")
      }
    }
  }
}

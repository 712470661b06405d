import Postgres

/// The migrations and seed files compiled into the binary (see Plugins/EmbedFilesPlugin).
enum EmbeddedSchema {
  /// Forward-only table migrations: `Schema/NNNN_name.sql`, each applied once and pinned by its checksum.
  static let migrations: [Migration] = schemaFiles.filter { !$0.name.contains("/") }

  /// Functions, triggers and views: `Schema/functions/NN_name.sql`, re-applied whenever their text changes.
  static let repeatables: [Migration] = schemaFiles.filter { $0.name.hasPrefix("functions/") }

  /// `name=checksum` of every migration and repeatable file, as kpstock_session_start() lists what was applied.
  static let migrationChecksums = migrations.map { "\($0.name)=\(SHA256.hex($0.sql))" }.sorted()
  static let repeatableChecksums = repeatables.map { "\($0.name)=\(SHA256.hex($0.sql))" }.sorted()

  private static let schemaFiles: [Migration] = EmbeddedFiles.all.compactMap { file in
    guard file.path.hasPrefix("Schema/"), file.path.hasSuffix(".sql") else { return nil }
    let name = String(file.path.dropFirst("Schema/".count).dropLast(".sql".count))
    return Migration(name: name, sql: file.contents)
  }

  /// "kpstock" in ASCII: the advisory lock every kpstock migrator takes.
  static let migrationLockKey: Int64 = 0x6B_7073_746F_636B

  static var migrator: Migrator {
    Migrator(
      migrations: migrations, repeatables: repeatables, lockKey: migrationLockKey,
      owner: Migrator.Owner(role: "kp_owner", since: "0020_access"))
  }

  /// Migrations that only a kpstock from before the ledger schema was squashed into 0002 applied.
  static let squashedMigrations = [
    "0003_ledger_import", "0004_ledger_fast_paths", "0005_ledger_verify_references", "0006_ledger_dispense_fast_path",
  ]

  /// A seed CSV by its path under Seeds/, e.g. `reference/counties.csv`.
  static func seedFile(_ path: String) throws -> CSVTable {
    guard let file = EmbeddedFiles.all.first(where: { $0.path == "Seeds/" + path }) else {
      throw KPStockError(.operational, "this kpstock was built without Seeds/\(path)")
    }
    return try CSVReader.parse(Array(file.contents.utf8), fileName: "Seeds/" + path)
  }
}

import Postgres

/// The migrations and seed files compiled into the binary (see Plugins/EmbedFilesPlugin).
enum EmbeddedSchema {
  static let migrations: [Migration] = EmbeddedFiles.all.compactMap { file in
    guard file.path.hasPrefix("Schema/"), file.path.hasSuffix(".sql") else { return nil }
    let name = String(file.path.dropFirst("Schema/".count).dropLast(".sql".count))
    return Migration(name: name, sql: file.contents)
  }

  /// "kpstock" in ASCII: the advisory lock every kpstock migrator takes.
  static let migrationLockKey: Int64 = 0x6B_7073_746F_636B

  static var migrator: Migrator { Migrator(migrations: migrations, lockKey: migrationLockKey) }

  /// A seed CSV by its path under Seeds/, e.g. `reference/counties.csv`.
  static func seedFile(_ path: String) throws -> CSVTable {
    guard let file = EmbeddedFiles.all.first(where: { $0.path == "Seeds/" + path }) else {
      throw KPStockError(.operational, "this kpstock was built without Seeds/\(path)")
    }
    return try CSVReader.parse(Array(file.contents.utf8), fileName: "Seeds/" + path)
  }
}

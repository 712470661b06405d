import EmbeddedCluster
import Foundation
import Postgres

/// Opens kpstock's database: starts the embedded cluster when that is the target, and brings the
/// schema up to date on first use so every command can assume it.
public enum KPStockDatabase {
  /// - Parameter notice: receives one line for each thing done on the user's behalf (cluster started,
  ///   database migrated), for the CLI to print on stderr.
  public static func open(
    _ target: DatabaseTarget, migrate: Bool = true, notice: (String) -> Void = { _ in }
  ) throws(KPStockError) -> Connection {
    do {
      if case .embedded(let cluster) = target, try cluster.start() {
        notice("started the embedded PostgreSQL server (data in \(cluster.configuration.home))")
      }
      let connection = try Connection(connectingTo: target.conninfo)
      if migrate { try prepare(connection, notice: notice) }
      return connection
    } catch let error as KPStockError {
      throw error
    } catch let error as PostgresError {
      throw KPStockError(.operational, "cannot use the database (\(target)): \(error.message)")
    } catch {
      throw KPStockError(.operational, "\(error)")
    }
  }

  /// Applies pending migrations; on a database that had none, also loads the reference data,
  /// so a fresh database knows Kenya's counties and the commodity catalogue from the first command.
  public static func prepare(_ connection: Connection, notice: (String) -> Void = { _ in }) throws {
    let migrator = EmbeddedSchema.migrator
    let pending = try migrator.pending(connection)
    guard !pending.isEmpty else { return }
    let applied = try migrate(connection)
    if !applied.isEmpty {
      try Seeds.loadReference(connection)
      notice(
        "migrated the database (\(applied.joined(separator: ", "))) and loaded reference data")
    }
  }

  /// Applies every pending migration; returns the names applied.
  @discardableResult
  public static func migrate(_ connection: Connection) throws -> [String] {
    do {
      return try EmbeddedSchema.migrator.migrate(connection)
    } catch let error as MigrationError {
      throw KPStockError(.operational, error.description)
    }
  }

  /// Names of the migrations this binary carries, and which are applied to `connection`'s database.
  public static func migrationStatus(_ connection: Connection) throws -> [(name: String, applied: Bool)] {
    let pending = Set(try EmbeddedSchema.migrator.pending(connection).map(\.name))
    return EmbeddedSchema.migrations.map { ($0.name, !pending.contains($0.name)) }
  }
}

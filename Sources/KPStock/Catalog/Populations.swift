import Postgres

/// The key populations norms and outreach counts are kept for.
public enum PopulationCatalog {
  public static func listing(_ connection: Connection) throws -> Listing {
    let rows = try connection.query("SELECT code, name FROM populations ORDER BY code")
    return Listing(
      columns: ["code", "name"],
      rows: try rows.map { [.text(try $0.decode("code")), .text(try $0.decode("name"))] })
  }
}

import Postgres

/// Counties with how much of the programme sits in each, so a county team can find its code.
public enum CountyCatalog {
  public static func listing(_ connection: Connection) throws -> Listing {
    let rows = try connection.query(
      """
      SELECT c.code, c.name,
        (SELECT count(*) FROM sub_counties s WHERE s.county_code = c.code) AS sub_counties,
        (SELECT count(*) FROM sites s WHERE s.county_code = c.code) AS sites
      FROM counties c ORDER BY c.code
      """)
    return Listing(
      columns: ["code", "name", "sub_counties", "sites"],
      rows: try rows.map { row in
        [
          .text(try row.decode("code")), .text(try row.decode("name")), .integer(try row.decode("sub_counties")),
          .integer(try row.decode("sites")),
        ]
      })
  }
}

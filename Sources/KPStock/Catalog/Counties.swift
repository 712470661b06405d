import Postgres

/// A county, with how much of the programme sits in it, so a county team can find its code.
public struct County: Sendable, Equatable {
  public var code: String
  public var name: String
  public var subCounties: Int
  public var sites: Int
}

public enum CountyCatalog {
  public static func list(_ store: Store) throws -> [County] {
    try store.run { connection in
      try connection.query(
        """
        SELECT c.code, c.name,
          (SELECT count(*) FROM sub_counties s WHERE s.county_code = c.code) AS sub_counties,
          (SELECT count(*) FROM sites s WHERE s.county_code = c.code) AS sites
        FROM counties c ORDER BY c.code
        """
      ).map { row in
        County(
          code: try row.decode("code"), name: try row.decode("name"), subCounties: try row.decode("sub_counties"),
          sites: try row.decode("sites"))
      }
    }
  }
}

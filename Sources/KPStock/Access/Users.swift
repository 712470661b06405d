import Postgres

/// A person who uses kpstock: a PostgreSQL login with one daily role and the places they work on
/// (docs/security.md). kpstock keeps no passwords: logins are the server's.
public struct KPUser: Sendable, Equatable {
  public var name: String
  /// pharmacist, logistics, county-viewer or admin.
  public var role: String
  /// False once every right was revoked (the name stays, since the audit trail names it).
  public var canLogin: Bool
  public var sites: [String]
  /// County names.
  public var counties: [String]

  public init(name: String, role: String, canLogin: Bool, sites: [String], counties: [String]) {
    self.name = name
    self.role = role
    self.canLogin = canLogin
    self.sites = sites
    self.counties = counties
  }
}

/// Adding people and changing where they work: an admin's work, judged by the access functions
/// (Schema/functions/05_access.sql), which run with the owner's rights since only it may create logins.
public enum Users {
  /// The daily roles, as `--role` takes them.
  public static let roles = ["pharmacist", "logistics", "county-viewer", "admin"]

  public static func add(_ store: Store, name: String, role: String, sites: [String], counties: [String]) throws {
    try store.run { try add($0, name: name, role: role, sites: sites, counties: counties) }
  }

  static func add(_ connection: Connection, name: String, role: String, sites: [String], counties: [String]) throws {
    try connection.execute(
      "SELECT access_user_add(\(name), \(role), \(PostgresArray(sites)), \(PostgresArray(counties)))")
  }

  public static func grant(_ store: Store, name: String, sites: [String], counties: [String]) throws {
    try store.run {
      try $0.execute("SELECT access_user_grant(\(name), \(PostgresArray(sites)), \(PostgresArray(counties)))")
    }
  }

  /// Takes the places named from a user; with none named, takes their role and login too.
  public static func revoke(_ store: Store, name: String, sites: [String], counties: [String]) throws {
    try store.run {
      try $0.execute("SELECT access_user_revoke(\(name), \(PostgresArray(sites)), \(PostgresArray(counties)))")
    }
  }

  public static func list(_ store: Store) throws -> [KPUser] {
    try store.run { connection in
      try connection.query(
        """
        SELECT user_name, role, can_login, array_to_string(sites, E'\\n') AS sites,
          array_to_string(counties, E'\\n') AS counties
        FROM access_users()
        """
      ).map { row in
        KPUser(
          name: try row.decode("user_name"), role: try row.decode("role"), canLogin: try row.decode("can_login"),
          sites: (try row.decode("sites") as String).split(separator: "\n").map(String.init),
          counties: (try row.decode("counties") as String).split(separator: "\n").map(String.init))
      }
    }
  }

  /// Who the store is logged in as.
  public static func current(_ store: Store) throws -> String {
    try store.run { try $0.query("SELECT session_user::text AS name")[0].decode("name") }
  }
}

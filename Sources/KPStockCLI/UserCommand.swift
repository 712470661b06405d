import ArgumentParser
import KPStock

/// People and where they work (docs/security.md). Admins only: the database refuses anyone else.
struct UserCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "user",
    abstract: "Add people (PostgreSQL logins), list them, and grant or revoke the sites and counties they work on.",
    subcommands: [Add.self, List.self, Grant.self, Revoke.self])

  struct Places: ParsableArguments {
    @Option(name: .customLong("site"), help: "A site the person works at (repeatable).") var sites: [String] = []
    @Option(name: .customLong("county"), help: "A county (code or name) the person works on (repeatable).")
    var counties: [String] = []
  }

  static let flags = FlagNames(renamed: ["name": "NAME"])

  struct Add: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Add a person with one role: pharmacist, logistics, county-viewer or admin.",
      discussion: """
        Examples: kpstock user add achieng --role pharmacist --site DICE-UKUNDA
                  kpstock user add omondi --role logistics --county Kwale
        kpstock stores no password: on a hosted server, set one in psql (\\password NAME).
        """)

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "Login name: 3-63 lower-case letters, digits and _.") var name: String
    @Option(help: "pharmacist, logistics, county-viewer or admin.") var role: String
    @OptionGroup var places: Places

    func run() throws {
      let store = try database.open()
      try UserCommand.flags.check {
        try Users.add(store, name: name, role: role, sites: places.sites, counties: places.counties)
      }
      Console.output("user \(name) is a \(role)\(UserCommand.describe(places))\n")
    }
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List people, their roles and places.", discussion: "Example: kpstock user list --format csv")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: FormatOption

    func run() throws {
      let store = try database.open()
      let users = try UserCommand.flags.check { try Users.list(store) }
      let listing = Listing(
        columns: ["name", "role", "can_login", "sites", "counties"],
        rows: users.map {
          [
            .text($0.name), .text($0.role), .boolean($0.canLogin), .text($0.sites.joined(separator: " ")),
            .text($0.counties.joined(separator: " ")),
          ]
        })
      Console.output(listing.rendered(as: output.format))
    }
  }

  struct Grant: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Let a person work on more sites or counties.",
      discussion: "Example: kpstock user grant achieng --site MAT-KOMBANI")

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "Login name.") var name: String
    @OptionGroup var places: Places

    func run() throws {
      let store = try database.open()
      try UserCommand.flags.check {
        try Users.grant(store, name: name, sites: places.sites, counties: places.counties)
      }
      Console.output("user \(name) now also works\(UserCommand.describe(places))\n")
    }
  }

  struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Take sites or counties from a person; with none named, their role and login.",
      discussion: """
        Examples: kpstock user revoke achieng --site DICE-UKUNDA
                  kpstock user revoke achieng          (leaves the programme: no login, no places)
        """)

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "Login name.") var name: String
    @OptionGroup var places: Places

    func run() throws {
      let store = try database.open()
      try UserCommand.flags.check {
        try Users.revoke(store, name: name, sites: places.sites, counties: places.counties)
      }
      let whole = places.sites.isEmpty && places.counties.isEmpty
      Console.output(
        whole ? "user \(name) may no longer log in\n" : "user \(name) no longer works\(UserCommand.describe(places))\n")
    }
  }

  static func describe(_ places: Places) -> String {
    let named = places.sites.map { "at \($0.uppercased())" } + places.counties.map { "in \($0)" }
    return named.isEmpty ? "" : " " + named.joined(separator: ", ")
  }
}

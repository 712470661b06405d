/// What kpstock treats as a personal identifier in the shape of a file: the people served are criminalised, so a
/// register that carries names, phone numbers or ID numbers is refused whole before any row is read, rather than
/// having those columns dropped quietly and the practice of collecting them go on.
public enum PersonalIdentifiers {
  /// Header names, normalised (see `normalised`), that name a person or a way to reach or trace one.
  static let columnNames: Set<String> = [
    "name", "names", "firstname", "lastname", "surname", "middlename", "othername", "othernames", "fullname",
    "givenname", "familyname", "nickname", "alias", "clientname", "patientname", "personname",
    "phone", "phoneno", "phonenumber", "mobile", "mobileno", "mobilenumber", "cell", "cellphone", "msisdn", "tel",
    "telno", "telephone", "contact", "contactno", "contactnumber", "whatsapp",
    "id", "idno", "idnumber", "nationalid", "nationalidno", "nationalidnumber", "nid", "passport", "passportno",
    "passportnumber", "birthcertificate", "nhif", "nhifno", "nhifnumber", "shif", "shifno", "shifnumber", "huduma",
    "hudumano", "hudumanumber", "hudumanamba", "maishanamba", "krapin",
    "email", "emailaddress", "address", "homeaddress", "postaladdress", "residence",
    "dob", "dateofbirth", "birthdate", "birthday",
  ]

  /// Parts that mark a header as an identifier wherever they appear in it (`client_phone_2`, `mother's passport`).
  static let columnParts = [
    "phone", "msisdn", "passport", "nationalid", "huduma", "nhif", "email", "surname", "firstname", "lastname",
    "fullname", "dateofbirth", "birthdate", "whatsapp",
  ]

  /// Case, spaces, dashes, underscores and punctuation dropped, so `First Name`, `first-name` and `FIRST_NAME` are one.
  static func normalised(_ column: String) -> String {
    String(column.lowercased().unicodeScalars.filter { $0.properties.isAlphabetic || ("0"..."9").contains($0) })
  }

  public static func isIdentifierColumn(_ column: String) -> Bool {
    let name = normalised(column)
    return columnNames.contains(name) || columnParts.contains { name.contains($0) }
  }

  /// Refuses a header holding an identifier column. `owned` lists the columns that this file's table declares and
  /// that only look like one: a site's, county's or commodity's `name` is not a person's.
  static func refuseColumns(_ header: [String], fileName: String, owned: [String]) throws(KPStockError) {
    let owned = Set(owned.map(normalised))
    let found = header.filter { isIdentifierColumn($0) && !owned.contains(normalised($0)) }
    guard !found.isEmpty else { return }
    let quoted = found.map { "'\($0)'" }.joined(separator: ", ")
    let what =
      found.count == 1
      ? "column \(quoted) looks like a personal identifier" : "columns \(quoted) look like personal identifiers"
    throw .badInput(
      "\(fileName):1: \(what); kpstock never stores names, phone numbers or ID numbers — remove "
        + (found.count == 1 ? "the column" : "them"))
  }
}

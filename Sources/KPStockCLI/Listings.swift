import Foundation
import KPStock

// The domain's results as rows under named columns, the one shape the CLI prints as a table, CSV or JSON.

extension CountyCatalog {
  static func listing(_ counties: [County]) -> Listing {
    Listing(
      columns: ["code", "name", "sub_counties", "sites"],
      rows: counties.map { [.text($0.code), .text($0.name), .integer($0.subCounties), .integer($0.sites)] })
  }
}

extension PopulationCatalog {
  static func listing(_ populations: [Population]) -> Listing {
    Listing(columns: ["code", "name"], rows: populations.map { [.text($0.code), .text($0.name)] })
  }
}

extension SiteCatalog {
  static func listing(_ sites: [Site]) -> Listing {
    Listing(
      columns: ["code", "name", "kind", "county", "county_name", "sub_county", "dhis2_uid", "opened_on", "closed_on"],
      rows: sites.map { site in
        [
          .text(site.code), .text(site.name), .text(site.kind), .text(site.countyCode),
          .text(site.countyName), Cell(site.subCounty), Cell(site.dhis2UID), Cell(site.openedOn),
          Cell(site.closedOn),
        ]
      })
  }
}

extension NormCatalog {
  /// With `history`, also who recorded each norm and when, so a changed figure can be traced.
  static func listing(_ norms: [Norm], history: Bool = false) -> Listing {
    var columns = ["commodity", "population", "county", "site", "per_person_per_week", "effective_from", "source"]
    if history { columns += ["recorded_by", "recorded_at"] }
    return Listing(
      columns: columns,
      rows: norms.map { norm in
        var row: [Cell] = [
          .text(norm.commodityCode), .text(norm.populationCode), Cell(norm.countyCode), Cell(norm.siteCode),
          .decimal(norm.quantityPerWeek), Cell(norm.effectiveFrom), .text(norm.source),
        ]
        if history { row += [Cell(norm.recordedBy), Cell(norm.recordedAt.map(Listing.timestamp))] }
        return row
      })
  }
}

extension ProgrammeSettings {
  var record: Record {
    Record(fields: [
      ("time_zone", .text(timeZone)),
      ("wastage_percent", .decimal(wastagePercent)),
      ("forecast_tolerance_percent", .decimal(forecastTolerancePercent)),
      ("backdating_window_days", .integer(backdatingWindowDays)),
      ("forecast_alpha", .decimal(forecastAlpha)),
      ("forecast_beta", .decimal(forecastBeta)),
    ])
  }
}

extension CommodityCatalog {
  static func listing(_ commodities: [Commodity]) -> Listing {
    Listing(
      columns: [
        "code", "name", "category", "base_unit", "pack_size", "pack_rounding_threshold", "lot_tracked", "controlled",
      ],
      rows: commodities.map { item in
        [
          .text(item.code), .text(item.name), .text(item.category), .text(item.baseUnit), .integer(item.packSize),
          .integer(item.packRoundingThreshold), .boolean(item.lotTracked), .boolean(item.controlled),
        ]
      })
  }
}

extension SupplyLineCatalog {
  static func listing(_ lines: [SupplyLine]) -> Listing {
    Listing(
      columns: [
        "site", "category", "supplier", "external_supplier", "lead_time_days", "review_period_days",
        "safety_stock_weeks", "variant", "emergency_order_point_weeks",
      ],
      rows: lines.map { line in
        [
          .text(line.siteCode), .text(line.category), Cell(line.supplierCode), Cell(line.externalSupplier),
          .integer(line.leadTimeDays), .integer(line.reviewPeriodDays), .decimal(line.safetyStockWeeks),
          .text(line.variant),
          .decimal(line.emergencyOrderPointWeeks),
        ]
      })
  }
}

extension StockReasons {
  static func listing(_ reasons: [StockReason]) -> Listing {
    Listing(
      columns: ["code", "direction", "description"],
      rows: reasons.map { [.text($0.code), .text($0.direction), .text($0.description)] })
  }
}

extension StockQueries {
  static func stockListing(_ lines: [StockLine]) -> Listing {
    Listing(
      columns: ["site", "commodity", "lot", "expiry", "on_hand", "in_transit", "status", "detail"],
      rows: lines.map { line in
        [
          .text(line.siteCode), .text(line.commodityCode), Cell(line.lotCode), Cell(line.expiresOn),
          .integer(Int(line.onHand)), .integer(Int(line.inTransit)), .text(line.status), Cell(line.detail),
        ]
      })
  }

  static func stockCardListing(_ lines: [StockCardLine]) -> Listing {
    Listing(
      columns: ["date", "event", "kind", "lot", "in", "out", "balance", "detail", "note", "recorded_by"],
      rows: lines.map { line in
        [
          Cell(line.occurredOn), .integer(Int(line.eventID)), .text(line.kind.rawValue), Cell(line.lotCode),
          line.quantity > 0 ? .integer(Int(line.quantity)) : .empty,
          line.quantity < 0 ? .integer(Int(-line.quantity)) : .empty, .integer(Int(line.balance)),
          Cell(line.detail.isEmpty ? nil : line.detail), Cell(line.note), .text(line.recordedBy),
        ]
      })
  }

  static func transferListing(_ transfers: [Transfer]) -> Listing {
    Listing(
      columns: [
        "transfer", "from", "to", "commodity", "qty", "lots", "dispatched_on", "status", "received_on", "accepted",
        "rejected", "rejection_reason",
      ],
      rows: transfers.map { transfer in
        [
          .integer(Int(transfer.id)), .text(transfer.fromSite), .text(transfer.toSite), .text(transfer.commodityCode),
          .integer(Int(transfer.quantity)), Cell(transfer.lots.isEmpty ? nil : transfer.lots.joined(separator: " ")),
          Cell(transfer.dispatchedOn), .text(transfer.status.replacingOccurrences(of: "_", with: " ")),
          Cell(transfer.receivedOn), transfer.accepted.map { .integer(Int($0)) } ?? .empty,
          transfer.rejected.map { .integer(Int($0)) } ?? .empty, Cell(transfer.rejectionReason),
        ]
      })
  }

  static func verificationListing(_ differences: [LedgerDifference]) -> Listing {
    Listing(
      columns: ["check", "site", "commodity", "lot", "day", "from_events", "recorded"],
      rows: differences.map { difference in
        [
          .text(difference.check), .text(difference.siteCode), .text(difference.commodityCode),
          Cell(difference.lotCode), Cell(difference.day), .integer(Int(difference.expected)),
          .integer(Int(difference.recorded)),
        ]
      })
  }
}

extension StockCounts {
  static func listing(_ sheet: StockCountSheet) -> Listing {
    Listing(
      columns: ["commodity", "lot", "expiry", "on_hand_at_start", "counted", "variance", "event"],
      rows: sheet.lines.map { line in
        [
          .text(line.commodityCode), Cell(line.lotCode), Cell(line.expiresOn), .integer(Int(line.snapshot)),
          line.counted.map { .integer(Int($0)) } ?? .empty,
          line.counted.map { .integer(Int($0 - line.snapshot)) } ?? .empty,
          line.eventID.map { .integer(Int($0)) } ?? .empty,
        ]
      })
  }
}

extension Outreach {
  static func listing(_ reports: [ReachReport]) -> Listing {
    Listing(
      columns: ["site", "week", "population", "worker", "hotspot", "reached", "new", "corrections"],
      rows: reports.map { report in
        [
          .text(report.siteCode), .text(report.week), .text(report.populationCode), Cell(report.workerCode),
          Cell(report.hotspot), .integer(report.reached), .integer(report.newEnrolments),
          .integer(report.corrections),
        ]
      })
  }

  static func listing(_ estimates: [SizeEstimate]) -> Listing {
    Listing(
      columns: ["area", "area_kind", "population", "year", "size", "source"],
      rows: estimates.map { estimate in
        [
          .text(estimate.area), .text(estimate.areaKind), .text(estimate.populationCode), .integer(estimate.year),
          .integer(estimate.size), .text(estimate.source),
        ]
      })
  }
}

import Foundation
import Logging

/// export-inventory: the warehouse's stock to the inventory master (WAIR), in one batch per run —
/// the changes since the last run as **stock mutations** (`POST /StockMutations`, the mutation WAIR prefers:
/// https://docs.wair.ai/docs/post-stock "We always recommend to use POST /StockMutations"), the on-hand
/// levels of the warehouse location (`POST /Stock`: stock on hand, not available), and what the warehouse
/// has allocated to open orders as stock not for replenishment (`POST /StockNotForReplenishment`, a full
/// load, as WAIR recommends), each chunked to the per-call maximum. Levels are noted by import-stock as
/// the stock files come in; a level is marked sent only once its batch is stopped, so a killed run sends
/// it again (WAIR upserts by id: nothing counts twice) and stops the batch it left open.
public struct ExportInventory {
    let client: WairClient
    let manifest: Manifest
    let clock: () -> Date

    public init(client: WairClient, manifest: Manifest, clock: @escaping () -> Date) {
        self.client = client
        self.manifest = manifest
        self.clock = clock
    }

    public struct Summary: Sendable, Hashable, Codable {
        public var mutations = 0
        public var levels = 0
        public var allocations = 0
    }

    public func run(dryRun: Bool = false) throws -> Summary {
        let location = client.settings.warehouseLocation
        let unsent = try manifest.wairStock(unsentOnly: true)
        var summary = Summary()
        guard !unsent.isEmpty else {
            if !dryRun { try client.stopLeftoverBatches() }
            return summary
        }
        let time = { (snapshot: Int) in UTCTime.iso8601(Date(timeIntervalSince1970: Double(snapshot))) }
        let mutations: [[String: Any]] = unsent.compactMap { level in
            guard let sent = level.sentOnHand, level.onHand != sent else { return nil }
            // The id names the change (from what WAIR last got to this level): resent after a crash, it is the
            // same mutation; a new change at the same snapshot time is a new one.
            return ["id": "\(location)|\(level.itemCode)|\(level.snapshot)|\(sent)>\(level.onHand)", "locationId": location,
                    "skuId": level.itemCode,
                    "quantity": level.onHand - sent, "mutationDateTime": time(level.snapshot), "mutationType": "Correction"]
        }
        let levels: [[String: Any]] = unsent.map {
            ["id": "\(location)|\($0.itemCode)", "locationId": location, "skuId": $0.itemCode, "quantity": $0.onHand,
             "stockDateTime": time($0.snapshot)]
        }
        let allocations: [[String: Any]] = try manifest.wairStock(unsentOnly: false).filter { $0.allocated > 0 }.map {
            ["id": "\(location)|\($0.itemCode)|allocated", "locationId": location, "skuId": $0.itemCode,
             "startDateTime": "1970-01-01T00:00:00Z", "endDateTime": time($0.snapshot + 86_400 * 365), "quantity": $0.allocated]
        }
        summary = Summary(mutations: mutations.count, levels: levels.count, allocations: allocations.count)
        guard !dryRun else { return summary }
        try client.inBatch {
            if !mutations.isEmpty { try client.upload("/StockMutations", field: "stockMutations", mutations) }
            try client.upload("/Stock", field: "stock", levels)
            try client.upload("/StockNotForReplenishment", field: "stockNotForReplenishment", allocations, fullLoad: true)
        }
        try manifest.markWairStockSent(unsent)
        return summary
    }
}

import CSVKit
import Foundation

/// The storefront of a client that also has an inventory master: orders whose numbers start with the
/// transfers' prefix are the inventory master's transfers (their despatches confirm the transfer there);
/// everything else is the shop's. Listings, stock and the catalogue are the shop's.
public final class RoutingStorefront: Storefront, ReturnsSource, RefundAuditing, LineCancelling {
    public let primary: any Storefront
    public let transfers: WairTransfers

    public init(primary: any Storefront, transfers: WairTransfers) {
        self.primary = primary
        self.transfers = transfers
    }

    private func target(_ number: String) -> any Storefront { number.hasPrefix(transfers.prefix) ? transfers : primary }

    public func orders(statuses: [String], pageSize: Int, _ body: ([StorefrontOrder]) throws -> Void) throws {
        try primary.orders(statuses: statuses, pageSize: pageSize, body)
    }
    public func order(number: String) throws -> StorefrontOrder? { try target(number).order(number: number) }
    public func products() throws -> [Product] { try primary.products() }
    public func products(pageSize: Int, _ body: ([Product]) throws -> Void) throws {
        try primary.products(pageSize: pageSize, body)
    }
    public func fulfil(_ fulfilment: Fulfilment) throws { try target(fulfilment.orderNumber).fulfil(fulfilment) }
    public func setStock(_ levels: [(sku: String, quantity: Int)]) throws -> Set<String> { try primary.setStock(levels) }
    public func setStock(_ levels: [(sku: String, quantity: Int)], snapshotAt: [Date]) throws -> Set<String> {
        try primary.setStock(levels, snapshotAt: snapshotAt)
    }
    public func stockLevels() throws -> [String: Int] { try primary.stockLevels() }
    public func prepareStockUpdates() { primary.prepareStockUpdates() }
    public var wantsStockSKUsFirst: Bool { primary.wantsStockSKUsFirst }
    public func expectStockUpdates(for skus: KeyPartitions?) throws { try primary.expectStockUpdates(for: skus) }
    /// The transfers are looked up one by one from the inventory master; the shop's orders may be read ahead.
    public func prepareOrderLookups() { primary.prepareOrderLookups() }
    public var wantsOrderNumbersFirst: Bool { primary.wantsOrderNumbersFirst }
    public func expectOrderLookups(for numbers: KeySet?) throws { try primary.expectOrderLookups(for: numbers) }
    public func refund(_ refund: Refund) throws { try target(refund.orderNumber).refund(refund) }
    public func recordCancellation(orderNumber: String, outcome: CancellationOutcome, detail: String) throws {
        try target(orderNumber).recordCancellation(orderNumber: orderNumber, outcome: outcome, detail: detail)
    }
    public func flush() throws {
        try primary.flush()
        try transfers.flush()
    }
    public func check(readyStatuses: [String]) throws -> StorefrontCheck { try primary.check(readyStatuses: readyStatuses) }

    public func announcedReturns(pageSize: Int, _ body: ([AnnouncedReturn]) throws -> Void) throws {
        try (primary as? any ReturnsSource)?.announcedReturns(pageSize: pageSize, body)
    }
    public func refundsWithoutReturn(since: Date) throws -> [DisconnectedRefund] {
        try (primary as? any RefundAuditing)?.refundsWithoutReturn(since: since) ?? []
    }
    public func cancelLines(orderNumber: String, lines: [(sku: String, quantity: Int)]) throws {
        guard !orderNumber.hasPrefix(transfers.prefix) else { return }
        try (primary as? any LineCancelling)?.cancelLines(orderNumber: orderNumber, lines: lines)
    }
}

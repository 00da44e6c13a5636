/// The commented starter configuration `voxbatch init` writes.
///
/// It works as it is on the embedded default: the exchange is a local folder, the storefront is the
/// plain-file storefront, and state lives under `.voxbatch/` next to the file.
public enum StarterConfiguration {
    /// The folders the starter configuration uses, relative to the configuration file.
    public static let folders = [".voxbatch/exchange/in", ".voxbatch/exchange/out", ".voxbatch/exchange/archive",
                                 ".voxbatch/exchange/error", ".voxbatch/shop"]

    /// The file's text.
    public static func text(client: String) -> String {
        """
        # voxbatch configuration: one client's exchange between a storefront and a Peoplevox warehouse.
        # Check it with: voxbatch config check. Unknown keys are errors, so a typo cannot switch off a rule.
        # Relative paths are relative to this file.

        client: \(client)

        warehouse:
          # file:// for a local or mounted folder (the embedded default), sftp://user@host:port/folder for SFTP.
          url: file://.voxbatch/exchange
          # For SFTP:
          # url: sftp://acme@sftp.warehouse.example:22/exchange
          # identity: /etc/voxbatch/acme_ed25519      # private key, mode 600
          # passphrase_env: VOXBATCH_KEY_PASSPHRASE   # only if the key has a passphrase
          # password_env: VOXBATCH_SFTP_PASSWORD      # or password_file: /etc/voxbatch/sftp.pass (mode 600)
          # known_hosts: ~/.ssh/known_hosts           # add the server with: voxbatch transport known-host HOST:PORT
          # host_key_policy: strict                   # or accept-new (records unknown keys, refuses changed ones)
          folders:
            to_warehouse: in
            from_warehouse: out
            archive: archive
            error: error
          staging:
            suffix: .part         # drops are written as NAME.part, then renamed
          pickup:
            readiness: stable     # a file is taken when unchanged across two listings...
            interval: 5           # ...this many seconds apart; or readiness: marker with markers: [.done, .ok]

        files:
          sales_orders: SO_{timestamp}_{sequence}.csv
          items: ITEMS_{timestamp}.csv
          cancellations: CANCEL_{timestamp}.csv
          expected_returns: RMA_{timestamp}_{sequence}.csv   # returns announced in the shop (RMA), sent ahead
          despatches: DESP_*.csv
          stock: STOCK_*.csv
          returns: RET_*.csv
          order_status: STATUS_*.csv   # the warehouse's sales-order states (decides if a cancellation can stop an order)
          guard_formulas: false   # true: prefix values starting with = + - @ with ' (only if people open these files in a spreadsheet)

        storefront:
          type: file              # file, woocommerce, centra, marketplacer or scayle
          folder: .voxbatch/shop  # the plain-file storefront's folder
          # For an API storefront:
          # url: https://shop.example.com
          # key_env: WOO_CONSUMER_KEY
          # secret_env: WOO_CONSUMER_SECRET
          # Centra: url, token_env: CENTRA_TOKEN, stock_warehouse: NAME, ready_statuses: [good-to-go]
          # Marketplacer: url, token_env: MARKETPLACER_KEY, ready_statuses: [PAID], sku_field: sku
          # SCAYLE: url, token_env: SCAYLE_TOKEN, shop_key, country_code, stock_warehouse, ready_statuses: [confirmed]
          ready_statuses: [paid, processing]   # orders in these states are sent to the warehouse
          cancelled_statuses: [cancelled]

        mappings:
          skus: {}                # storefront SKU: warehouse item code, where they differ
          carriers:               # warehouse carrier: storefront carrier
            Royal Mail: royal-mail
            DPD: dpd
          extra_columns:          # Peoplevox sales-order column: storefront field
            SalesOrderAttribute1: gift_message
            SalesOrderAttribute2: delivery_instructions
          # columns:              # rename Peoplevox template columns to your warehouse's own
          #   despatches: {"Salesorder number": "Order"}

        policies:
          stock_buffer: 0         # units held back from the storefront for every SKU
          stock_buffer_per_sku: {}
          sla_hours: 48           # orders sent longer ago without a despatch are flagged
          order_retry_attempts: 5         # an order failing its checks is alerted after this many attempts...
          order_retry_backoff_minutes: 15 # ...looked at again after 15, 30, 60... minutes
          refund_states: [Accepted, Quarantined]
          restock_states: [Accepted]
          max_orders_per_file: 500
          cancellable_states: [New]   # warehouse states in which a cancellation still stops an order
          stock_max_age_hours: 24     # status and alerts: a stock file older than this is a problem
          file_wait_minutes: 60       # ...and so is a warehouse file left unread this long

        retry:
          attempts: 5
          initial_delay: 1
          max_delay: 60

        alerts:                   # sent once per incident, with a recovery message when it clears
          # webhook_url_env: VOXBATCH_ALERT_WEBHOOK   # https://hooks.slack.com/... (a secret: by reference only)
          # format: slack                             # json, slack or teams
          # command: /usr/local/bin/page-ops          # gets the alert as JSON on standard input
          after_consecutive_failures: 3
          exception_kinds: [rejected-file, rejected-rows, unknown-sku, cancel-too-late, despatch-not-applied, order-retries-exhausted,
                            pgp-decrypt-failed, pgp-bad-signature, pgp-unsigned, pgp-unknown-signer]

        state: .voxbatch
        # The manifest and job locks in PostgreSQL instead (many machines, one fleet; a schema per client):
        # state: {path: .voxbatch, database: "postgres://voxbatch@db.example.com:5432/voxbatch", password_file: /etc/voxbatch/pg-password}
        """
    }
}

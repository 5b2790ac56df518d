/// Who the learner has heard from, and when.
public struct LivenessTracker: Sendable {
    /// What the learner knows of one peer.
    public struct Peer: Sendable, Hashable {
        public var id: String
        public var role: String
        public var lastSeen: Double
        public var envSteps: UInt64
        public var policyVersion: Int64
    }

    /// Seconds of silence after which a peer counts as dead.
    public var timeout: Double
    public private(set) var peers: [String: Peer] = [:]

    public init(timeout: Double) {
        self.timeout = timeout
    }

    /// Records that `id` was heard from at `now`. Returns true if it was unknown or dead before.
    @discardableResult
    public mutating func heard(id: String, role: String, now: Double, envSteps: UInt64? = nil, policyVersion: Int64? = nil) -> Bool {
        let wasAlive = peers[id].map { now - $0.lastSeen <= timeout } ?? false
        var peer = peers[id] ?? Peer(id: id, role: role, lastSeen: now, envSteps: 0, policyVersion: -1)
        peer.lastSeen = now
        if let envSteps { peer.envSteps = envSteps }
        if let policyVersion { peer.policyVersion = policyVersion }
        peers[id] = peer
        return !wasAlive
    }

    /// Peers heard from within the timeout, sorted by id.
    public func alive(now: Double, role: String? = nil) -> [Peer] {
        peers.values.filter { now - $0.lastSeen <= timeout && (role == nil || $0.role == role) }.sorted { $0.id < $1.id }
    }
}

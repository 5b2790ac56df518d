import Foundation
import Logging
import OniAnnotation
import OniCore
import OniLearning
import OniRewards
import OniStorage
import OniTelemetry
import OniTransport
import OniWire

/// The learner's metrics snapshot and where it goes.
extension Learner {
    /// The share of the interval the loop spent taking in experience and publishing, the share
    /// the trainer spent updating and waiting for a batch, and what the updates achieved.
    func measureTimeShares(interval: Double) {
        guard let trainer, interval > 0 else { return }
        let progress = trainer.snapshot, before = progressAtLastMetrics
        let updating = progress.updateSeconds - before.updateSeconds, samples = progress.samplesTrained - before.samplesTrained
        timeShares = [
            "learner/time_intake": intakeSeconds / interval, "learner/time_publishing": publishSeconds / interval,
            "learner/time_updating": updating / interval, "learner/time_waiting": (progress.waitSeconds - before.waitSeconds) / interval,
            "learner/samples_per_s": Double(samples) / interval,
        ]
        if updating > 0 && samples > 0 {
            let gflops = (progress.flops - before.flops) / updating / 1e9
            timeShares["learner/gflops"] = gflops
            if sgemmPeakGFLOPs > 0 { timeShares["learner/sgemm_peak_fraction"] = gflops / sgemmPeakGFLOPs }
        }
        intakeSeconds = 0
        publishSeconds = 0
        progressAtLastMetrics = progress
    }

    func emitMetrics(_ sockets: Sockets, writer: StoreWriter) {
        metricsSinks.write(snapshot(sockets, writer: writer))
    }

    func snapshot(_ sockets: Sockets, writer: StoreWriter) -> Oni_V1_Metrics {
        var values = counters
        values.merge(intake.counters) { _, new in new }
        values["env/steps"] = Double(envSteps)
        values["env/fps"] = fps
        values["env/episodes"] = Double(intake.episodes)
        if let mean = intake.returns.mean { values["env/episode_return"] = mean }
        if let mean = intake.lengths.mean { values["env/episode_length"] = mean }
        if let mean = intake.successes.mean { values["env/success_rate"] = mean }
        values["messages/distinct"] = Double(registry.count)
        values["messages/labelled"] = Double(registry.labelledCount)
        values["messages/positive"] = Double(registry.positiveCount)
        if let share = intake.coverage.share { values["messages/labelled_occurrence_share"] = share }
        if intrinsic.reward.annotation == .pairs {
            values["pairs/total"] = Double(pairs.count)
            values["pairs/judged"] = Double(pairs.judgedCount)
        }
        values["annotation/enabled"] = config.annotatorEndpoint == nil ? 0 : 1
        values["annotation/pending"] = Double(annotation.queue.pendingCount)
        values["annotation/waiting"] = Double(annotation.queue.waitingCount)
        values["annotation/timeouts"] = Double(annotation.queue.timedOutRequests)
        let backingOff = annotation.queue.backingOff(now: now)
        values["annotation/backing_off"] = Double(backingOff.count)
        values["annotation/longest_backoff_wait_s"] = backingOff.longestSeconds
        for p in [50.0, 95] {
            if let v = annotation.queue.roundTripSeconds.percentile(p) { values["annotation/round_trip_ms_p\(Int(p))"] = v * 1000 }
        }
        for (name, value) in annotatorFigures where value.isFinite { values["annotator/" + name] = value }
        values["learner/rollouts"] = Double(intake.rollouts)
        if let trainer {
            let progress = trainer.snapshot
            values.merge(progress.stats) { _, new in new }
            values.merge(progress.counters) { _, new in new }
            values["learner/policy_version"] = Double(progress.version)
            values["learner/updates"] = Double(progress.updates)
            values["learner/samples_trained"] = Double(progress.samplesTrained)
            if let lag = progress.lags.mean { values["learner/policy_lag"] = lag }
            values["learner/update_ms"] = progress.lastTiming.total * 1000
            values["learner/queued_samples"] = Double(trainer.queuedSamples)
            values.merge(timeShares) { _, new in new }
            values.merge(intrinsic.metrics) { _, new in new }
        }
        values["learner/frames_refused"] = Double(sockets.framesRefused)
        values["learner/messages_too_large"] = Double(sockets.messagesTooLarge)
        if let security = transport.securityCounters {
            values["security/admitted"] = Double(security.admitted)
            values["security/refused_keys"] = Double(security.refusedKeys)
            values["security/failed_handshakes"] = Double(security.failedHandshakes)
            values["security/refused_by_annotator"] = Double(security.refusedByServer)
        }
        values["learner/uptime_s"] = now - started
        let store = writer.currentStats
        values["store/pending"] = Double(store.pending)
        values["store/written"] = Double(store.written)
        values["store/rollouts_dropped"] = Double(store.droppedRollouts)
        values["store/rollouts_thinned"] = Double(store.thinnedRollouts)
        values["store/rollout_mb"] = Double(store.blobBytes) / Double(1 << 20)
        values["store/records_dropped"] = Double(store.droppedRecords)
        values["store/failed_records"] = Double(store.failedRecords)
        let live = liveness.alive(now: now, role: "worker")
        values["workers/live"] = Double(live.count)
        values["workers/known"] = Double(liveness.peers.values.filter { $0.role == "worker" }.count)
        if config.annotatorEndpoint != nil {
            values["annotation/annotators_live"] = Double(liveness.alive(now: now, role: "annotator").count)
        }
        var m = Oni_V1_Metrics()
        m.unixMs = unixMilliseconds
        m.envSteps = envSteps
        m.values = values
        m.liveWorkers = live.map(\.id)
        return m
    }
}

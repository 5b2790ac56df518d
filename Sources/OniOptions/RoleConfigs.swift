import ArgumentParser
import OniRuntime

// Each role's configuration from its option groups: the one mapping its executable uses and the
// tests check.

extension LearnerConfig {
    public init(wiring: LearnerWiring, environment: EnvironmentOptions, learner: LearnerOptions, role: RoleOptions) {
        self.init()
        runDirectory = wiring.runDir
        resume = wiring.resume
        freshWeights = wiring.freshWeights
        experienceBind = wiring.experienceBind
        paramsBind = wiring.paramsBind
        metricsBind = wiring.metricsBind
        controlBind = wiring.controlBind
        annotatorEndpoint = wiring.annotator
        prometheusBind = wiring.prometheusBind
        env = environment.env
        seed = environment.seed
        maxFrameBytes = role.maxFrameBytes
        learner.apply(to: &self, annotating: wiring.annotator != nil)
    }
}

extension WorkerConfig {
    public init(wiring: WorkerWiring, environment: EnvironmentOptions, worker: WorkerOptions, role: RoleOptions) {
        self.init()
        id = wiring.id
        runID = wiring.runId
        env = environment.env
        seed = environment.seed
        experienceEndpoint = wiring.experience
        paramsEndpoint = wiring.params
        maxEnvSteps = wiring.maxEnvSteps
        recordDirectory = wiring.recordDir
        maxFrameBytes = role.maxFrameBytes
        worker.apply(to: &self)
    }
}

extension AnnotatorConfig {
    /// Fails (as a validation error) without an LLM server or with settings the annotator refuses.
    public init(wiring: AnnotatorWiring, annotator: AnnotatorOptions, role: RoleOptions) throws {
        guard let llm = annotator.llmServer() else {
            throw ValidationError("no LLM server: give --llm-url http://HOST:PORT/v1 or set ONI_LLM_BASE_URL")
        }
        self.init(llm: llm)
        bind = wiring.bind
        id = wiring.id
        endpointFile = wiring.endpointFile
        maxFrameBytes = role.maxFrameBytes
        do { try annotator.apply(to: &self) } catch { throw ValidationError("\(error)") }
    }
}

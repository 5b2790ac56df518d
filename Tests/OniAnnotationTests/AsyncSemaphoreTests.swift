import OniAnnotation
import Testing

@Suite struct AsyncSemaphoreTests {
    @Test func permitsAreHandedOutInOrder() async throws {
        let semaphore = AsyncSemaphore(permits: 1)
        try await semaphore.acquire()
        #expect(await semaphore.availablePermits == 0)

        let waiter = Task { try await semaphore.acquire() }
        while await semaphore.waitingCount == 0 { await Task.yield() }
        await semaphore.release()
        try await waiter.value
        #expect(await semaphore.availablePermits == 0)
        await semaphore.release()
        #expect(await semaphore.availablePermits == 1)
    }

    @Test func cancelledWaiterGivesUpWithoutAPermit() async throws {
        let semaphore = AsyncSemaphore(permits: 1)
        try await semaphore.acquire()

        let waiter = Task { () async -> Bool in
            do {
                try await semaphore.acquire()
                return true
            } catch {
                return false
            }
        }
        while await semaphore.waitingCount == 0 { await Task.yield() }
        waiter.cancel()
        #expect(await waiter.value == false)
        #expect(await semaphore.waitingCount == 0)

        await semaphore.release()
        #expect(await semaphore.availablePermits == 1)
    }

    @Test func atLeastOnePermit() async {
        #expect(await AsyncSemaphore(permits: 0).availablePermits == 1)
    }
}

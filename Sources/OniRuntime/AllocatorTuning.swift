/// glibc's allocator settings for processes that train.
public enum AllocatorTuning {
    /// Serves large arrays from the heap instead of fresh mmap'ed pages and keeps freed memory:
    /// by default every array over the mmap threshold (the network's activations at batch 1024
    /// are tens of MB) comes from new pages, and the kernel zeroes and maps each one at first
    /// touch (page faults were ~7% of an update). A training process reaches its working set
    /// after the first update and then reuses it.
    public static func keepLargeAllocations() {
        #if os(Linux)
        // <malloc.h>: M_TRIM_THRESHOLD −1, M_MMAP_THRESHOLD −3 (Swift's Glibc module leaves mallopt out).
        _ = glibcMallopt(-3, 1 << 30)
        _ = glibcMallopt(-1, Int32.max)
        #endif
    }
}

#if os(Linux)
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

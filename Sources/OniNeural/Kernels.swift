import CKernels

/// Our own kernels (`CKernels`: the direct convolution, products with few rows), which run on a
/// CPU with AVX-512F; elsewhere the layers keep im2col and sgemm.
public enum Kernels {
    /// Whether this CPU runs them; asked once.
    public static let run = oni_kernels_available() != 0
}

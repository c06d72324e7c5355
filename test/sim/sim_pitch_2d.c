/* sim_pitch_2d: pitched allocations and 2D/3D copies and fills move exactly the
 * described rectangle (bytes outside it stay untouched). */
#include "sim_test.h"

int main(void)
{
    sim_test_ctx();
    const size_t W = 100, H = 7; /* bytes per row, rows */
    CUdeviceptr d, d2;
    size_t pitch, pitch2;
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemAllocPitch(&d, &pitch, W, H, 3));
    CK(cuMemAllocPitch(&d, &pitch, W, H, 4));
    CHECK(pitch >= W && pitch % 256 == 0);
    CK(cuMemAllocPitch(&d2, &pitch2, W, H, 8));
    CK(cuMemsetD8(d, 0xee, pitch * H));
    unsigned char host[H][W + 20];
    for (size_t y = 0; y < H; y++)
        for (size_t x = 0; x < W + 20; x++) host[y][x] = (unsigned char)(y * 31 + x);
    CUDA_MEMCPY2D c = {.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = host, .srcPitch = W + 20,
                       .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = d, .dstPitch = pitch,
                       .WidthInBytes = W, .Height = H};
    CK(cuMemcpy2D(&c));
    /* DtoD into the second, then back to a packed host buffer. */
    CUDA_MEMCPY2D dd = {.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = d, .srcPitch = pitch,
                        .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = d2, .dstPitch = pitch2,
                        .WidthInBytes = W, .Height = H};
    CUstream s;
    CK(cuStreamCreate(&s, 0));
    CK(cuMemcpy2DAsync(&dd, s));
    CK(cuStreamSynchronize(s));
    unsigned char back[H][W];
    CUDA_MEMCPY2D dh = {.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = d2, .srcPitch = pitch2,
                        .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = back, .dstPitch = W,
                        .WidthInBytes = W, .Height = H};
    CK(cuMemcpy2D(&dh));
    for (size_t y = 0; y < H; y++)
        for (size_t x = 0; x < W; x++) CHECK(back[y][x] == host[y][x]);
    /* Padding of the first allocation untouched by the 2D copy. */
    unsigned char pad;
    CK(cuMemcpyDtoH(&pad, d + W, 1));
    CHECK(pad == 0xee);
    /* Sub-rectangle with offsets. */
    CUDA_MEMCPY2D sub = dh;
    sub.srcXInBytes = 10, sub.srcY = 2, sub.WidthInBytes = 5, sub.Height = 3;
    sub.dstXInBytes = 1, sub.dstY = 0;
    memset(back, 0, sizeof back);
    CK(cuMemcpy2D(&sub));
    CHECK(back[0][1] == host[2][10] && back[2][5] == host[4][14] && back[0][0] == 0);
    /* 2D fill. */
    CK(cuMemsetD2D32(d, pitch, 0x01020304, 4, H));
    uint32_t w32[2];
    CK(cuMemcpyDtoH(w32, d + pitch * (H - 1), 8));
    CHECK(w32[0] == 0x01020304 && w32[1] == 0x01020304);
    CK(cuMemcpyDtoH(&pad, d + 16, 1));
    CHECK(pad == host[0][16]);
    EXPECT(CUDA_ERROR_INVALID_VALUE, cuMemsetD32(d + 1, 0, 1)); /* misaligned */
    /* 3D: two slices of 2 rows. */
    unsigned char cube[2][2][8], out[2][2][8];
    for (int i = 0; i < 32; i++) ((unsigned char *)cube)[i] = (unsigned char)i;
    CUDA_MEMCPY3D c3 = {.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = cube, .srcPitch = 8, .srcHeight = 2,
                        .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = d, .dstPitch = pitch, .dstHeight = 3,
                        .WidthInBytes = 8, .Height = 2, .Depth = 2};
    CK(cuMemcpy3D(&c3));
    CUDA_MEMCPY3D b3 = {.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = d, .srcPitch = pitch, .srcHeight = 3,
                        .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = out, .dstPitch = 8, .dstHeight = 2,
                        .WidthInBytes = 8, .Height = 2, .Depth = 2};
    CK(cuMemcpy3D(&b3));
    CHECK(memcmp(cube, out, sizeof cube) == 0);
    CK(cuMemcpyDtoH(&pad, d + 3 * pitch + 1, 1)); /* slice 1 starts at row 3 */
    CHECK(pad == 17);
    /* The peer form (one device: two contexts of it) moves the same bytes. */
    CUcontext ctx;
    CK(cuCtxGetCurrent(&ctx));
    memset(out, 0, sizeof out);
    CUDA_MEMCPY3D_PEER p3 = {.srcMemoryType = CU_MEMORYTYPE_DEVICE, .srcDevice = d, .srcContext = ctx,
                             .srcPitch = pitch, .srcHeight = 3, .dstMemoryType = CU_MEMORYTYPE_HOST,
                             .dstHost = out, .dstContext = ctx, .dstPitch = 8, .dstHeight = 2,
                             .WidthInBytes = 8, .Height = 2, .Depth = 2};
    CK(cuMemcpy3DPeer(&p3));
    CHECK(memcmp(cube, out, sizeof cube) == 0);
    CK(cuStreamDestroy(s));
    CK(cuMemFree(d));
    CK(cuMemFree(d2));
    return 0;
}

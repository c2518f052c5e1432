/* A stand-in for Windows' bcryptprimitives.dll, for running stratbox's Windows build under Wine
 * in CI (.ci/wine-test.sh); it is never shipped.
 *
 * Why: Rust's std (1.78 and later) takes its random bytes (HashMap seeds, for one) from
 * ProcessPrng in bcryptprimitives.dll, which Windows 10 and later have, but Debian 12's Wine 8.0
 * does not; without it every Rust program fails to start. Wine loads a DLL that sits beside the
 * .exe before its own, so this one, exporting ProcessPrng over advapi32's SystemFunction036
 * (RtlGenRandom, the generator Rust used before), is copied next to the binaries under test.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll bcryptprimitives.c
 */
#include <windows.h>

/* advapi32's RtlGenRandom, exported under this name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* BOOL ProcessPrng(PBYTE pbData, SIZE_T cbData): fills the buffer, always returns TRUE. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

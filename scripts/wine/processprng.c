/*
 * Stub bcryptprimitives.dll for Wine 8, which lacks ProcessPrng.
 * Go >= 1.21 resolves bcryptprimitives.dll!ProcessPrng at start-up and
 * crashes without it. We forward to advapi32!SystemFunction036
 * (RtlGenRandom). Built and installed by setup.sh.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	/* RtlGenRandom takes a ULONG length; feed large requests in chunks. */
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

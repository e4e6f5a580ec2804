package pidlock

// procLocksHas reports whether the text of /proc/locks (or the "lock:"
// lines of /proc/PID/fdinfo/FD, without their prefix) lists a granted FLOCK
// on the file major:minor:ino, exclusive (WRITE) or shared (READ): either
// keeps an exclusive flock from being taken. Lines look like
//
//	1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF
//	1: -> FLOCK  ADVISORY  WRITE 4321 00:1a:5678 0 EOF
//
// where "->" marks a waiter, which does not hold the lock. The device is
// printed as two hex numbers, the inode in decimal.
func procLocksHas(b []byte, major, minor uint32, ino uint64) bool {
	for len(b) > 0 {
		var line []byte
		if i := indexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		f := fields(line, 8)
		// id: [->] class mode type pid dev:ino start end
		if len(f) < 6 || f[1] != "FLOCK" || (f[3] != "WRITE" && f[3] != "READ") {
			continue
		}
		if ma, mi, in, ok := parseDevIno(f[5]); ok && ma == major && mi == minor && in == ino {
			return true
		}
	}
	return false
}

// fields splits s at runs of spaces and tabs into at most n fields.
func fields(s []byte, n int) []string {
	var out []string
	for len(s) > 0 && len(out) < n {
		for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
			s = s[1:]
		}
		j := 0
		for j < len(s) && s[j] != ' ' && s[j] != '\t' {
			j++
		}
		if j > 0 {
			out = append(out, string(s[:j]))
		}
		s = s[j:]
	}
	return out
}

// parseDevIno parses "MAJ:MIN:INO" with MAJ and MIN in hex and INO in
// decimal.
func parseDevIno(s string) (major, minor uint32, ino uint64, ok bool) {
	var parts [3]string
	k := 0
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ':' {
			if k == 3 {
				return 0, 0, 0, false
			}
			parts[k] = s[start:i]
			k++
			start = i + 1
		}
	}
	if k != 3 {
		return 0, 0, 0, false
	}
	ma, ok1 := parseUint(parts[0], 16, 32)
	mi, ok2 := parseUint(parts[1], 16, 32)
	in, ok3 := parseUint(parts[2], 10, 64)
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, false
	}
	return uint32(ma), uint32(mi), in, true
}

func parseUint(s string, base uint64, bits uint) (uint64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if n > (^uint64(0)-d)/base {
			return 0, false
		}
		n = n*base + d
	}
	if bits < 64 && n >= 1<<bits {
		return 0, false
	}
	return n, true
}

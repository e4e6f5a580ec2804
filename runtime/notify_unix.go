//go:build unix

package runtime

import "net"

// sendDatagram writes msg to the unixgram socket addr (a path, or an
// abstract socket when it starts with '@').
func sendDatagram(addr, msg string) error {
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(msg))
	return err
}

//go:build linux

// Command init is PID 1 of the amx-vm test machine (see ../README.md): it
// mounts /proc, /dev and /tmp, prints the CPU's bf16/AMX flags, runs every
// /t/*.test (arguments from NAME.args, extra environment from NAME.env,
// one field per word), reports "VM: ok NAME" or "VM: FAIL NAME: ERR" and
// powers the machine off.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	for _, m := range []struct{ dir, fs string }{{"/proc", "proc"}, {"/dev", "devtmpfs"}, {"/tmp", "tmpfs"}} {
		if err := os.MkdirAll(m.dir, 0o755); err == nil {
			if err := syscall.Mount(m.fs, m.dir, m.fs, 0, ""); err != nil {
				fmt.Println("VM: mount", m.dir, err)
			}
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				fmt.Println("VM:", l)
				break
			}
		}
		var flags []string
		for _, f := range strings.Fields(string(b)) {
			if (strings.Contains(f, "bf16") || strings.HasPrefix(f, "amx")) && !contains(flags, f) {
				flags = append(flags, f)
			}
		}
		fmt.Println("VM: cpu flags", strings.Join(flags, " "))
	}
	tests, _ := filepath.Glob("/t/*.test")
	for _, t := range tests {
		cmd := exec.Command(t, fields(t+".args")...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
		cmd.Dir = "/tmp"
		cmd.Env = append([]string{"HOME=/tmp", "TMPDIR=/tmp"}, fields(t+".env")...)
		fmt.Println("VM: run", filepath.Base(t), cmd.Args[1:], cmd.Env[2:])
		if err := cmd.Run(); err != nil {
			fmt.Printf("VM: FAIL %s: %v\n", filepath.Base(t), err)
		} else {
			fmt.Printf("VM: ok %s\n", filepath.Base(t))
		}
	}
	fmt.Println("VM: DONE")
	time.Sleep(20 * time.Second) // let the serial console drain before power-off
	syscall.Sync()
	syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
}

func fields(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

using System.Runtime.Versioning;

// The suite drives POSIX rsync binaries and lstat/utimensat/mkfifo through libc: Linux only.
[assembly: SupportedOSPlatform("linux")]

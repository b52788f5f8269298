using System.Runtime.Versioning;

// inotify and the durable queue's fsync are Linux facilities.
[assembly: SupportedOSPlatform("linux")]

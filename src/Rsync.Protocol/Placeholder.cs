namespace NetRsync.Protocol; public static class Placeholder {}

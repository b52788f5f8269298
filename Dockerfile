# netrsync:latest for machines that can pull public images:
#   docker build -t netrsync:latest .        (podman build works the same)
# scripts/image.sh makes the same image without pulling anything (a Debian root filesystem from
# mmdebstrap instead of the SDK image's libraries); docs/container.md explains both.

# 1. netrsyncd and netsersync as native executables. Native AOT links with clang.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS publish
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN dotnet publish src/Rsync.Daemon -c Release -r linux-x64 -nologo -o /out \
 && dotnet publish src/SerSync.Watch -c Release -r linux-x64 -nologo -o /out

# 2. The root filesystem: the programs, bash for the entrypoint, and the libraries they load (what
#    ldd names, plus OpenSSL's libssl/libcrypto, which .NET opens at run time for the daemon's
#    password checks), taken from this same system so they match the C library the programs were
#    linked against.
RUN set -eu; \
    root=/rootfs; \
    mkdir -p "$root/usr/local/bin" "$root/bin" "$root/etc" "$root/app/local/sersync"; \
    cp /out/netrsyncd /out/netsersync "$root/usr/local/bin/"; \
    cp /bin/bash "$root/bin/bash"; \
    for lib in $( { ldd /out/netrsyncd; ldd /out/netsersync; ldd /bin/bash; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' ) \
               $(ldconfig -p | awk '/^\t(libssl|libcrypto)\.so\.3 .*x86-64/ { print $NF }'); do \
      cp -L --parents "$lib" "$root/"; \
    done; \
    cp deploy/container/entrypoint.sh "$root/usr/local/bin/netrsync-entrypoint"; \
    cp deploy/container/rsyncd.conf "$root/etc/rsyncd.conf"; \
    cp deploy/container/confxml.xml "$root/app/local/sersync/confxml.xml"; \
    chmod 755 "$root/usr/local/bin/"*; chmod 644 "$root/etc/rsyncd.conf" "$root/app/local/sersync/confxml.xml"; \
    sh deploy/container/layout.sh "$root"; \
    ldconfig -r "$root"

# 3. The image: nothing but that file system.
FROM scratch
COPY --from=publish /rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin
LABEL org.opencontainers.image.title="netrsync" \
      org.opencontainers.image.description="netrsyncd (rsync daemon) and netsersync (sersync watcher) in managed .NET: no rsync binary"
VOLUME /syncdir
EXPOSE 873
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 CMD ["/usr/local/bin/netrsync-entrypoint", "--health"]
ENTRYPOINT ["/usr/local/bin/netrsync-entrypoint"]

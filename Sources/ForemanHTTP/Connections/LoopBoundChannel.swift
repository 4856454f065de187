import ForemanEngine
import ForemanTarget
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Serves each connection from its own event loop: the requests on it are read, handled and answered on the
/// thread that reads its socket.
///
/// Hummingbird runs a connection's handling on Swift's global executor, so every request crosses from the
/// connection's loop to a pool thread and every response back again, and on the two cores foreman is built for
/// each crossing wakes a sleeping thread. With this preference the handler, and the actors it calls while they
/// are free, run on the loop; a native call's job then runs there too and talks to the target over a connection
/// of the same loop (``HTTP1Target``, ADR 0012). Handlers must not block: full commits wait for fsync on SQLite's
/// writer queue, and only a native job's deferred commit runs on the loop, where it can wait behind one full
/// commit, as it did on the pool before.
///
/// It also installs the connection's ``ConnectionDeadlines`` and its ``ChunkedBodyFramer``.
public struct LoopBoundChannel<Inner: ServerChildChannel>: ServerChildChannel {
    public typealias Value = Inner.Value
    let inner: Inner
    let headerTimeout: TimeAmount
    let idleTimeout: TimeAmount

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let (raw, messages) = ConnectionDeadlines.handlers(headerTimeout: headerTimeout, idleTimeout: idleTimeout)
            let pipeline = channel.pipeline.syncOperations
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536))
            try pipeline.addHandler(raw, position: .first)
            try pipeline.addHandler(messages, position: .after(try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)))
            // Below `messages`, next to the encoder: it must see each head as the encoder does, after `messages` has
            // made an HTTP/1.0 answer one that closes the connection.
            try pipeline.addHandler(ChunkedBodyFramer(), position: .before(messages))
            return value
        }
    }

    public func handle(value: Value, logger: Logger) async {
        if #available(macOS 15.0, *) {
            await withTaskExecutorPreference(EventLoopExecutor(value.channel.eventLoop)) {
                await inner.handle(value: value, logger: logger)
            }
        } else {
            await inner.handle(value: value, logger: logger)
        }
    }
}

extension LoopBoundChannel where Inner == ForemanHTTP1Channel {
    /// foreman's HTTP/1 connections, with its connection handlers, each served from its own loop.
    public static func foremanHTTP1(
        responder: @escaping ForemanHTTP1Channel.Responder,
        stamp: @escaping ForemanHTTP1Channel.Stamp,
        headerTimeout: Duration,
        idleTimeout: Duration
    ) -> LoopBoundChannel<ForemanHTTP1Channel> {
        LoopBoundChannel(
            inner: ForemanHTTP1Channel(
                responder: responder, stamp: stamp, configuration: .init(additionalChannelHandlers: [HangUpWatcher()])
            ),
            headerTimeout: TimeAmount(headerTimeout),
            idleTimeout: TimeAmount(idleTimeout)
        )
    }
}

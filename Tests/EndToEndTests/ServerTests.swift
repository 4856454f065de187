import ForemanTestSupport
import Testing

/// Tests that start servers on loopback. They run one at a time: some of them need a port that
/// nothing listens on, and a test running beside them could otherwise be handed that port.
@Suite(.serialized) struct ServerTests {}

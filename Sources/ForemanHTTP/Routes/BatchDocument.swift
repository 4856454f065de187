import ForemanDomain
import Foundation

/// A batch as OpenAI's `batch` object: every key present, times in seconds since 1970.
enum BatchDocument {
    static func render(_ batch: Batch) -> String {
        func seconds(_ date: Date?) -> Int? { date.map { Int($0.timeIntervalSince1970) } }
        var counts = JSONObjectWriter()
        counts.int("total", batch.counts.total)
        counts.int("completed", batch.counts.completed)
        counts.int("failed", batch.counts.failed)
        var writer = JSONObjectWriter()
        writer.string("id", batch.id)
        writer.string("object", "batch")
        writer.string("endpoint", batch.endpoint)
        writer.raw("errors", batch.errors)
        writer.string("input_file_id", batch.inputFileID)
        writer.string("completion_window", batch.completionWindow)
        writer.string("status", batch.status.rawValue)
        writer.string("output_file_id", batch.outputFileID)
        writer.string("error_file_id", batch.errorFileID)
        writer.int("created_at", seconds(batch.createdAt))
        writer.int("in_progress_at", seconds(batch.inProgressAt))
        writer.int("expires_at", seconds(batch.expiresAt))
        writer.int("finalizing_at", seconds(batch.finalizingAt))
        writer.int("completed_at", seconds(batch.completedAt))
        writer.int("failed_at", seconds(batch.failedAt))
        writer.int("expired_at", seconds(batch.expiredAt))
        writer.int("cancelling_at", seconds(batch.cancellingAt))
        writer.int("cancelled_at", seconds(batch.cancelledAt))
        writer.object("request_counts", counts)
        writer.raw("metadata", batch.metadata)
        writer.string("webhook_url", batch.webhookURL)
        return writer.finished()
    }
}

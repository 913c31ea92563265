//! The queue between the handlers and the model. Handlers submit jobs (a request's token ids)
//! and await their answers on a channel of their own; one task cuts the queue into batches by a
//! token budget and a request count, and runs each batch on a blocking thread while the next
//! requests queue up. A job whose client went away (its answer channel closed) is skipped.

use super::metrics::Metrics;
use super::options::Limits;
use crate::model::Output;
use crate::{Classifier, Explanation};
use candle_core::Tensor;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// What a job wants of the network for each of its texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rows {
    /// Label probabilities.
    Probs,
    /// Logits.
    Logits,
    /// Sentence vectors.
    Features,
}

impl Rows {
    const ALL: [Rows; 3] = [Rows::Probs, Rows::Logits, Rows::Features];

    fn of(self, out: &Output) -> crate::Result<Tensor> {
        Ok(match self {
            Rows::Probs => candle_nn::ops::softmax_last_dim(&out.logits)?,
            Rows::Logits => out.logits.clone(),
            Rows::Features => out.features.clone(),
        })
    }
}

enum Work {
    Rows(Rows, Vec<Vec<u32>>),
    Explain(Vec<String>),
}

/// A job's answer: one row or explanation per text, or the model's error.
enum Answer {
    Rows(Vec<Vec<f32>>),
    Explanations(Vec<Explanation>),
}

type Reply = oneshot::Sender<Result<Answer, String>>;

struct Job {
    work: Work,
    /// What the job costs of a batch's token budget.
    tokens: usize,
    texts: usize,
    enqueued: Instant,
    reply: Reply,
}

/// Why a job got no answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The model failed on the batch.
    Model(String),
    /// The batcher is gone (it panicked) or its queue is full.
    Unavailable,
}

/// The handle handlers submit jobs through; cloning shares the queue.
#[derive(Clone)]
pub(crate) struct Batcher {
    queue: mpsc::Sender<Job>,
    arriving: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
}

/// A request on its way to the queue (being read, checked, tokenized). While any are, the
/// batcher waits up to `max_wait_ms` for them before closing a batch.
pub(crate) struct Arriving(Arc<AtomicUsize>);

impl Drop for Arriving {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Batcher {
    /// Starts the batching task on the current tokio runtime.
    pub fn start(classifier: Arc<Classifier>, limits: &Limits, metrics: Arc<Metrics>) -> Self {
        // Every job holds one of max_concurrent_requests permits, so the queue never fills.
        let (queue, rx) = mpsc::channel(limits.max_concurrent_requests);
        let arriving = Arc::new(AtomicUsize::new(0));
        let cutter = Cutter {
            rx,
            held: None,
            arriving: arriving.clone(),
            max_tokens: limits.max_batch_tokens,
            max_requests: limits.max_batch_requests,
            max_wait: limits.max_wait(),
            metrics: metrics.clone(),
        };
        tokio::spawn(run(cutter, classifier, metrics.clone()));
        Self {
            queue,
            arriving,
            metrics,
        }
    }

    /// Marks a request as on its way; drop the mark once it is submitted or refused.
    pub fn arriving(&self) -> Arriving {
        self.arriving.fetch_add(1, Ordering::SeqCst);
        Arriving(self.arriving.clone())
    }

    /// One row per sequence of `ids`, in order.
    pub async fn rows(
        &self,
        rows: Rows,
        ids: Vec<Vec<u32>>,
        arriving: Arriving,
    ) -> Result<Vec<Vec<f32>>, Failure> {
        let tokens = ids.iter().map(Vec::len).sum();
        let texts = ids.len();
        match self
            .submit(Work::Rows(rows, ids), tokens, texts, arriving)
            .await?
        {
            Answer::Rows(rows) => Ok(rows),
            Answer::Explanations(_) => unreachable!("rows are answered with rows"),
        }
    }

    /// The explanation of each text; `tokens` is what they cost (see `limits::explain_cost`).
    pub async fn explain(
        &self,
        texts: Vec<String>,
        tokens: usize,
        arriving: Arriving,
    ) -> Result<Vec<Explanation>, Failure> {
        let count = texts.len();
        match self
            .submit(Work::Explain(texts), tokens, count, arriving)
            .await?
        {
            Answer::Explanations(e) => Ok(e),
            Answer::Rows(_) => unreachable!("explanations are answered with explanations"),
        }
    }

    async fn submit(
        &self,
        work: Work,
        tokens: usize,
        texts: usize,
        arriving: Arriving,
    ) -> Result<Answer, Failure> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            work,
            tokens,
            texts,
            enqueued: Instant::now(),
            reply,
        };
        // Counted before it is sent: the batcher may take it (and count it out) at once.
        self.metrics.queue_depth.inc();
        if self.queue.try_send(job).is_err() {
            self.metrics.queue_depth.dec();
            return Err(Failure::Unavailable);
        }
        // Queued: no longer on its way.
        drop(arriving);
        match answer.await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(message)) => Err(Failure::Model(message)),
            Err(_) => Err(Failure::Unavailable),
        }
    }
}

/// Cuts the queue into batches.
struct Cutter {
    rx: mpsc::Receiver<Job>,
    /// A job that did not fit the last batch's budget: the first of the next.
    held: Option<Job>,
    arriving: Arc<AtomicUsize>,
    max_tokens: usize,
    max_requests: usize,
    max_wait: std::time::Duration,
    metrics: Arc<Metrics>,
}

impl Cutter {
    /// The next batch: the first waiting job, then those queued behind it while they fit the
    /// budget, waiting up to `max_wait` for requests still on their way. None once the queue
    /// is closed.
    async fn next_batch(&mut self) -> Option<Vec<Job>> {
        let first = match self.held.take() {
            Some(job) => job,
            None => self.next_live(None).await?,
        };
        let deadline = Instant::now() + self.max_wait;
        let mut tokens = first.tokens;
        let mut batch = vec![first];
        while batch.len() < self.max_requests {
            let Some(job) = self.next_live(Some(deadline)).await else {
                break;
            };
            if tokens + job.tokens > self.max_tokens {
                self.held = Some(job);
                break;
            }
            tokens += job.tokens;
            batch.push(job);
        }
        Some(batch)
    }

    /// The next job whose client still waits: with `deadline`, one already queued or, while
    /// requests are on their way, one that comes before it; without, whenever one comes.
    async fn next_live(&mut self, deadline: Option<Instant>) -> Option<Job> {
        loop {
            let job = match (deadline, self.rx.try_recv()) {
                (_, Ok(job)) => job,
                (_, Err(TryRecvError::Disconnected)) => return None,
                (None, Err(TryRecvError::Empty)) => self.rx.recv().await?,
                (Some(_), Err(TryRecvError::Empty))
                    if self.arriving.load(Ordering::SeqCst) == 0 =>
                {
                    return None
                }
                (Some(deadline), Err(TryRecvError::Empty)) => {
                    tokio::time::timeout_at(deadline, self.rx.recv())
                        .await
                        .ok()??
                }
            };
            self.metrics.queue_depth.dec();
            if !job.reply.is_closed() {
                return Some(job);
            }
        }
    }
}

async fn run(mut cutter: Cutter, classifier: Arc<Classifier>, metrics: Arc<Metrics>) {
    while let Some(batch) = cutter.next_batch().await {
        let (classifier, metrics) = (classifier.clone(), metrics.clone());
        // On a blocking thread, so the runtime's workers go on reading and answering requests
        // (and filling the next batch) meanwhile. A panic drops the batch's reply channels:
        // their handlers answer 503, and the next batch runs.
        let _ = tokio::task::spawn_blocking(move || execute(&classifier, batch, &metrics)).await;
    }
}

/// Runs a batch and answers each job: the jobs wanting rows of one kind go through the network
/// together, explanations one text at a time.
fn execute(classifier: &Classifier, batch: Vec<Job>, metrics: &Metrics) {
    let start = Instant::now();
    // Clients may have gone while the batch waited for a thread.
    let batch: Vec<Job> = batch.into_iter().filter(|j| !j.reply.is_closed()).collect();
    if batch.is_empty() {
        return;
    }
    for job in &batch {
        metrics
            .queue_seconds
            .observe((start - job.enqueued).as_secs_f64());
    }
    metrics.batch_requests.observe(batch.len() as f64);
    metrics
        .batch_texts
        .observe(batch.iter().map(|j| j.texts).sum::<usize>() as f64);
    metrics
        .batch_tokens
        .observe(batch.iter().map(|j| j.tokens).sum::<usize>() as f64);
    let mut groups: Vec<(Rows, Vec<Job>)> = Rows::ALL.iter().map(|&r| (r, Vec::new())).collect();
    let mut explains = Vec::new();
    for job in batch {
        match &job.work {
            Work::Rows(rows, _) => groups
                .iter_mut()
                .find(|g| g.0 == *rows)
                .unwrap()
                .1
                .push(job),
            Work::Explain(_) => explains.push(job),
        }
    }
    for (rows, jobs) in groups {
        if !jobs.is_empty() {
            answer_rows(classifier, rows, jobs);
        }
    }
    for job in explains {
        let Work::Explain(texts) = &job.work else {
            unreachable!()
        };
        let explained: crate::Result<Vec<Explanation>> =
            texts.iter().map(|t| classifier.explain(t)).collect();
        let _ = job.reply.send(
            explained
                .map(Answer::Explanations)
                .map_err(|e| e.to_string()),
        );
    }
    metrics
        .inference_seconds
        .observe(start.elapsed().as_secs_f64());
}

/// Runs every text of `jobs` through the network at once and hands each job its rows.
fn answer_rows(classifier: &Classifier, rows: Rows, mut jobs: Vec<Job>) {
    let mut counts = Vec::with_capacity(jobs.len());
    let mut ids = Vec::new();
    for job in &mut jobs {
        if let Work::Rows(_, job_ids) = &mut job.work {
            counts.push(job_ids.len());
            ids.append(job_ids);
        }
    }
    match classifier.run_ids(&ids, |out| rows.of(out)) {
        Ok(all) => {
            let mut all = all.into_iter();
            for (job, count) in jobs.into_iter().zip(counts) {
                let mine = all.by_ref().take(count).collect();
                let _ = job.reply.send(Ok(Answer::Rows(mine)));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for job in jobs {
                let _ = job.reply.send(Err(message.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Queue {
        tx: mpsc::Sender<Job>,
        cutter: Cutter,
        /// Answer channels kept open, as waiting clients keep them.
        waiting: Vec<oneshot::Receiver<Result<Answer, String>>>,
    }

    fn queue(max_tokens: usize, max_requests: usize) -> Queue {
        let (tx, rx) = mpsc::channel(64);
        let cutter = Cutter {
            rx,
            held: None,
            arriving: Arc::new(AtomicUsize::new(0)),
            max_tokens,
            max_requests,
            max_wait: Duration::from_secs(600),
            metrics: Arc::new(Metrics::new()),
        };
        Queue {
            tx,
            cutter,
            waiting: Vec::new(),
        }
    }

    impl Queue {
        /// Queues a job of `tokens` tokens in one text; `keep`: its client waits for it.
        fn push(&mut self, tokens: usize, keep: bool) {
            let (reply, answer) = oneshot::channel();
            let job = Job {
                work: Work::Rows(Rows::Probs, vec![vec![2; tokens]]),
                tokens,
                texts: 1,
                enqueued: Instant::now(),
                reply,
            };
            self.tx.try_send(job).unwrap();
            if keep {
                self.waiting.push(answer);
            }
        }

        async fn batch(&mut self) -> Vec<usize> {
            let batch = self.cutter.next_batch().await.unwrap();
            batch.iter().map(|j| j.tokens).collect()
        }
    }

    #[tokio::test]
    async fn batches_are_cut_by_the_token_budget_and_the_request_count() {
        let mut q = queue(25, 3);
        for tokens in [10, 10, 10, 1, 1, 1, 1, 40] {
            q.push(tokens, true);
        }
        assert_eq!(q.batch().await, [10, 10]);
        assert_eq!(q.batch().await, [10, 1, 1]);
        assert_eq!(q.batch().await, [1, 1]);
        // Over the budget on its own: a batch of its own.
        assert_eq!(q.batch().await, [40]);
    }

    #[tokio::test]
    async fn jobs_of_clients_that_went_away_are_skipped() {
        let mut q = queue(100, 10);
        q.push(1, false);
        q.push(2, true);
        q.push(3, false);
        q.push(4, true);
        assert_eq!(q.batch().await, [2, 4]);
    }

    #[tokio::test]
    async fn a_batch_waits_for_requests_on_their_way_and_only_for_them() {
        let mut q = queue(100, 10);
        // Nobody on the way: the batch closes at once (the wait allowed is ten minutes).
        q.push(1, true);
        assert_eq!(q.batch().await, [1]);
        // One on the way: the batch waits for it.
        q.push(1, true);
        let arriving = Arriving(q.cutter.arriving.clone());
        q.cutter.arriving.fetch_add(1, Ordering::SeqCst);
        let (reply, answer) = oneshot::channel();
        let tx = q.tx.clone();
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            let job = Job {
                work: Work::Explain(vec!["text".into()]),
                tokens: 7,
                texts: 1,
                enqueued: Instant::now(),
                reply,
            };
            tx.send(job).await.unwrap();
            drop(arriving);
        });
        assert_eq!(q.batch().await, [1, 7]);
        drop(answer);
    }
}

//! Training survives being killed: checkpoints are whole or absent, and a resumed run ends with
//! the weights of an uninterrupted one.

use crate::common::{args, bin, dir_with, ex, stderr, tsv};
use lstm_sentiment::Example;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// 1500 texts of 3 to 11 words, one of which gives the label: a run long enough to be killed at
/// many moments.
fn examples() -> Vec<Example> {
    let words = ["good", "great", "fine", "bad", "awful", "poor"];
    let fillers = ["the", "film", "food", "was", "very", "a", "plot", "room"];
    (0..1500usize)
        .map(|i| {
            let w = words[(i * 7) % 6];
            let label = if (i * 7) % 6 < 3 { "1" } else { "0" };
            let n = 3 + i % 9;
            let text: Vec<&str> = (0..n)
                .map(|j| {
                    if j == i % n {
                        w
                    } else {
                        fillers[(i + j * 3) % 8]
                    }
                })
                .collect();
            ex(label, &text.join(" "))
        })
        .collect()
}

fn train_cmd(dir: &Path, out: &str, epochs: &str, extra: &[&str]) -> Command {
    let mut c = bin();
    c.current_dir(dir)
        .args(args(
            "train --train train.tsv --embedding-dim 16 --hidden 24 --bidirectional",
        ))
        .args(args("--patience 0 --seed 11 -q"))
        .args(["--out", out, "--epochs", epochs])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn wait(child: Child) -> std::process::Output {
    child.wait_with_output().unwrap()
}

#[test]
fn killed_runs_resume_to_the_same_weights() {
    let tmp = dir_with(&[("train.tsv", &tsv(&examples()))]);
    let dir = tmp.path();

    let started = Instant::now();
    let out = wait(train_cmd(dir, "reference", "5", &[]).spawn().unwrap());
    assert!(out.status.success(), "{}", stderr(&out));
    let full_run = started.elapsed();
    let reference = std::fs::read(dir.join("reference/model.safetensors")).unwrap();
    assert!(
        !dir.join("reference/checkpoint").exists(),
        "removed after a complete run"
    );

    // Kill at spread-out moments; after each kill the checkpoint is either absent or whole, and
    // the next attempt resumes from it.
    let checkpoint = dir.join("run/checkpoint/checkpoint.safetensors");
    let mut kills = 0;
    for attempt in 0..12u32 {
        let resume = checkpoint.is_file();
        let mut cmd = train_cmd(
            dir,
            "run",
            "5",
            if resume { &["--resume", "run"] } else { &[] },
        );
        let mut child = cmd.spawn().unwrap();
        // Pseudo-random delays across the whole run, denser early on.
        let fraction = f64::from((attempt * 7919) % 97) / 97.0;
        std::thread::sleep(full_run.mul_f64(0.1 + 0.6 * fraction));
        match child.try_wait().unwrap() {
            Some(status) => {
                let out = child.wait_with_output().unwrap();
                assert!(status.success(), "{}", stderr(&out));
                break;
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
            }
        }
        if checkpoint.is_file() {
            let bytes = std::fs::read(&checkpoint).unwrap();
            safetensors::SafeTensors::deserialize(&bytes).expect("a whole checkpoint");
        }
    }
    assert!(kills > 0, "no run was killed; the test proves nothing");
    if !dir.join("run/model.safetensors").is_file() || dir.join("run/checkpoint").exists() {
        let resume: &[&str] = if checkpoint.is_file() {
            &["--resume", "run"]
        } else {
            &[]
        };
        let out = wait(train_cmd(dir, "run", "5", resume).spawn().unwrap());
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let resumed = std::fs::read(dir.join("run/model.safetensors")).unwrap();
    assert!(
        resumed == reference,
        "resumed weights differ from the uninterrupted run"
    );
}

#[test]
fn ctrl_c_saves_the_best_epoch_and_keeps_the_checkpoint() {
    let tmp = dir_with(&[("train.tsv", &tsv(&examples()))]);
    let dir = tmp.path();
    let child = train_cmd(dir, "m", "200", &[]).spawn().unwrap();
    let checkpoint = dir.join("m/checkpoint/checkpoint.safetensors");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !checkpoint.is_file() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(checkpoint.is_file(), "no checkpoint after the first epoch");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = wait(child);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("interrupted") && err.contains("--resume"),
        "{err}"
    );
    assert!(dir.join("m/model.safetensors").is_file());
    assert!(checkpoint.is_file(), "kept for --resume");
}

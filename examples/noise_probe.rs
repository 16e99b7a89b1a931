use privact::ckks::*;
use std::sync::Arc;
fn main() {
    let params =
        Parameters::preset(&std::env::args().nth(1).unwrap_or("depth3-n13".into())).unwrap();
    let mut kg = KeyGenerator::from_seed(&params, [42; 32]);
    let sk = kg.gen_secret_key();
    let keys = kg.gen_evaluation_keys(&sk, &[1, 2], true);
    let eval = Evaluator::new(&params, Arc::new(keys));
    let enc = Encoder::new(&params);
    let n = params.slots();
    let a: Vec<f64> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f64 / 500.0 - 1.0)
        .collect();
    let ct = Encryptor::new(&params, &sk)
        .encrypt(
            &enc.encode(&a, params.max_level(), params.default_scale())
                .unwrap(),
        )
        .unwrap();
    let dec = |c: &Ciphertext| {
        enc.decode(&Decryptor::new(&params, &sk).decrypt(c).unwrap())
            .unwrap()
    };
    let err = |got: Vec<f64>, want: &dyn Fn(usize) -> f64| {
        (0..n)
            .map(|i| (got[i] - want(i)).abs())
            .fold(0.0, f64::max)
            .log2()
    };
    println!("fresh      {:.1}", err(dec(&ct), &|i| a[i]));
    println!(
        "rot1       {:.1}",
        err(dec(&eval.rotate(&ct, 1).unwrap()), &|i| a[(i + 1) % n])
    );
    let h = eval.rotate_many(&ct, &[1, 2]).unwrap();
    println!("hoist1     {:.1}", err(dec(&h[0]), &|i| a[(i + 1) % n]));
    println!("hoist2     {:.1}", err(dec(&h[1]), &|i| a[(i + 2) % n]));
    println!(
        "conj       {:.1}",
        err(dec(&eval.conjugate(&ct).unwrap()), &|i| a[i])
    );
    {
        let rq = params.ring_q();
        let d = Decryptor::new(&params, &sk);
        let g = rq.galois_element_for_rotation(1);
        let want = rq.intt(rq.automorphism_ntt(d.decrypt(&ct).unwrap().poly(), g));
        let got = rq.intt(
            d.decrypt(&eval.rotate(&ct, 1).unwrap())
                .unwrap()
                .poly()
                .clone(),
        );
        let m = rq.modulus(0);
        let mut mx = 0i64;
        let mut sum = 0f64;
        for i in 0..params.n() {
            let e = m.center(m.sub(got.limb(0)[i], want.limb(0)[i]));
            mx = mx.max(e.abs());
            sum += (e as f64) * (e as f64);
        }
        println!(
            "ks coeff err max {mx} rms {:.1}",
            (sum / params.n() as f64).sqrt()
        );
        let relin = eval.relinearize(&eval.mul(&ct, &ct).unwrap()).unwrap();
        let want = d.decrypt(&eval.mul(&ct, &ct).unwrap()).unwrap();
        let got = d.decrypt(&relin).unwrap();
        let (w, g2) = (rq.intt(want.poly().clone()), rq.intt(got.poly().clone()));
        let mut mx = 0i64;
        for i in 0..params.n() {
            let e = m.center(m.sub(g2.limb(0)[i], w.limb(0)[i]));
            mx = mx.max(e.abs());
        }
        println!("relin coeff err max {mx}");
    }
    {
        let got = dec(&eval.rotate(&ct, 1).unwrap());
        let base = dec(&ct);
        let errs: Vec<f64> = (0..n).map(|i| got[i] - base[(i + 1) % n]).collect();
        let (imax, emax) = errs.iter().enumerate().fold((0, 0.0f64), |acc, (i, &e)| {
            if e.abs() > acc.1 { (i, e.abs()) } else { acc }
        });
        let rms = (errs.iter().map(|e| e * e).sum::<f64>() / n as f64).sqrt();
        println!(
            "slot err vs decoded fresh: max {:.1} at {imax}, rms {:.1}",
            emax.log2(),
            rms.log2()
        );
        let big: Vec<usize> = (0..n)
            .filter(|&i| errs[i].abs() > 8.0 * rms)
            .take(10)
            .collect();
        println!("big idx {:?}", big);
    }
    println!(
        "mul        {:.1}",
        err(dec(&eval.mul_relin_rescale(&ct, &ct).unwrap()), &|i| a[i]
            * a[i])
    );
}

#[allow(dead_code)]
fn unused() {}

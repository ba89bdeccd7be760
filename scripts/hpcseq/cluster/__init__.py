"""Slurm: what a stage asks for, on which cluster, and how its processes start.

    validators  every value that reaches a job script or an sbatch/srun command line
    options     the sbatch option table: validation by key, #SBATCH lines, command-line arguments
    clusters    cluster definitions (partitions, GPUs, software setup) and a training job's geometry
    resources   JobPlan of a stage, its Snakemake Slurm plugin resources, and the config's Slurm checks
    launch      `hpcseq launch`: srun inside Slurm, horovodrun or mpirun outside
    jobscript   sbatch scripts for users who submit by hand (`hpcseq sbatch`, `hpcseq smoke-test`)
    smoke       the smoke test's checks, run inside its job (python -m hpcseq.cluster.smoke)

Each module imports only modules listed above it. No TensorFlow here, and nothing from training or
logs; smoke alone imports TensorFlow and Horovod, inside its functions, in the job it checks.
"""
